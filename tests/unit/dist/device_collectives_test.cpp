// device_collectives_test.cpp: how ProcessGroup routes tensors between a backend's device collectives and its
// host ones. A fake backend of two ranks (rank 0; the other rank contributes the same values) admits contiguous
// f16 tensors "on the device": those reach the *_on_device calls as the tensor itself (no staged copy) and are
// counted at their own size; everything else is staged to host buffers as before. Also a failure reported from
// outside a collective (fail) breaks the group.
#include <gtest/gtest.h>

#include <vector>

#include "sprint/dist/process_group.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "unit/dist/collective_test_util.h"

namespace sprint::dist {
namespace {

Tensor sample(DType dtype, int64_t n) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<double>(i) + 1.0);
  return ops::cast_to(cpu(), Tensor::from_values<double>(v, Shape{n}), dtype);
}

// out = factor · (in's elements [from, from + out.numel())), in out's dtype.
void write_scaled(const Tensor& in, int64_t from, double factor, const Tensor& out) {
  std::vector<double> v = values(in);
  std::vector<double> w(v.begin() + from, v.begin() + from + out.numel());
  for (double& x : w) x *= factor;
  ops::copy(cpu(), ops::cast_to(cpu(), Tensor::from_values<double>(w, Shape{out.numel()}), out.dtype()), out);
}

class MirroredPair final : public ProcessGroup {
 public:
  MirroredPair() : ProcessGroup(0, 2, std::chrono::seconds(5)) {}
  std::string_view backend_name() const override { return "mirrored"; }
  std::vector<const void*> device_calls;  // the data pointers the device collectives got
  int host_calls = 0;
  using ProcessGroup::fail;

 protected:
  bool reduces_on_device(const Tensor& t) const override {
    return t.dtype() == DType::kF16 && t.is_contiguous();
  }
  void allreduce_on_device(const Stream&, const Tensor& t, ReduceOp op) override {
    device_calls.push_back(t.data());
    write_scaled(t, 0, op == ReduceOp::kSum ? 2.0 : 1.0, t);
  }
  std::unique_ptr<PendingCollective> start_allreduce_on_device(const Stream& s, const Tensor& t,
                                                              ReduceOp op) override {
    struct Done final : PendingCollective {
      bool test() override { return true; }
      void wait() override {}
    };
    allreduce_on_device(s, t, op);
    return std::make_unique<Done>();
  }
  void broadcast_on_device(const Stream&, const Tensor& t, int) override { device_calls.push_back(t.data()); }
  void allgather_on_device(const Stream&, const Tensor& in, const Tensor& out) override {
    device_calls.push_back(in.data());
    write_scaled(in, 0, 1.0, out.narrow(0, 0, in.numel()));
    write_scaled(in, 0, 1.0, out.narrow(0, in.numel(), in.numel()));
  }
  void reduce_scatter_on_device(const Stream&, const Tensor& in, const Tensor& out, ReduceOp op) override {
    device_calls.push_back(in.data());
    write_scaled(in, 0, op == ReduceOp::kSum ? 2.0 : 1.0, out);
  }

  void allreduce_sum(HostBuffer b) override {
    ++host_calls;
    ASSERT_EQ(b.dtype, DType::kF32);
    float* p = static_cast<float*>(b.data);
    for (int64_t i = 0; i < b.count; ++i) p[i] *= 2.0f;
  }
  void broadcast_host(HostBuffer, int) override { ++host_calls; }
  void allgather_host(HostBuffer in, HostBuffer out) override {
    ++host_calls;
    const float* a = static_cast<const float*>(in.data);
    float* b = static_cast<float*>(out.data);
    for (int64_t i = 0; i < in.count; ++i) b[i] = b[i + in.count] = a[i];
  }
  void reduce_scatter_sum(HostBuffer in, HostBuffer out) override {
    ++host_calls;
    const float* a = static_cast<const float*>(in.data);
    float* b = static_cast<float*>(out.data);
    for (int64_t i = 0; i < out.count; ++i) b[i] = 2.0f * a[i];
  }
  void barrier_host() override { ++host_calls; }
};

TEST(DeviceCollectives, AdmittedTensorsAreReducedWhereTheyLive) {
  MirroredPair group;
  const Tensor t = sample(DType::kF16, 6);
  group.allreduce(cpu(), t, ReduceOp::kSum);
  ASSERT_EQ(group.device_calls.size(), 1u);
  EXPECT_EQ(group.device_calls[0], t.data());  // the tensor itself, not a staged copy
  EXPECT_EQ(values(t), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(group.host_calls, 0);
  EXPECT_EQ(group.traffic().bytes, 12);  // 6 f16 elements at their own size (the host path sends f32)

  group.allreduce_async(cpu(), t, ReduceOp::kAverage)->wait();
  group.broadcast(cpu(), t, 1);
  const Tensor gathered = Tensor::empty(Shape{12}, DType::kF16);
  group.allgather(cpu(), t, gathered);
  EXPECT_EQ(values(gathered), (std::vector<double>{2, 4, 6, 8, 10, 12, 2, 4, 6, 8, 10, 12}));
  const Tensor mine = Tensor::empty(Shape{6}, DType::kF16);
  group.reduce_scatter(cpu(), gathered, mine, ReduceOp::kSum);
  EXPECT_EQ(values(mine), (std::vector<double>{4, 8, 12, 16, 20, 24}));
  EXPECT_EQ(group.device_calls.size(), 5u);
  EXPECT_EQ(group.host_calls, 0);
  EXPECT_EQ(group.traffic().collectives, 5);
  EXPECT_EQ(group.traffic().bytes, 12 + 12 + 12 + 12 + 24);
}

TEST(DeviceCollectives, OtherTensorsAreStagedToTheHost) {
  MirroredPair group;
  const Tensor f32 = sample(DType::kF32, 4);
  group.allreduce(cpu(), f32, ReduceOp::kSum);
  EXPECT_EQ(values(f32), (std::vector<double>{2, 4, 6, 8}));
  EXPECT_EQ(group.host_calls, 1);
  EXPECT_TRUE(group.device_calls.empty());
  EXPECT_EQ(group.traffic().bytes, 16);
  // An admitted input with an output the backend does not admit: both staged.
  const Tensor in = sample(DType::kF16, 2);
  const Tensor wide = Tensor::empty(Shape{4, 2}, DType::kF16);
  const Tensor strided = wide.narrow(1, 0, 1);  // 4 elements, every second one
  group.allgather(cpu(), in, strided);
  EXPECT_EQ(values(strided), (std::vector<double>{1, 2, 1, 2}));
  EXPECT_EQ(group.host_calls, 2);
  EXPECT_TRUE(group.device_calls.empty());
  // Argument checks come first, whatever the path: the mean of integers is refused.
  EXPECT_THROW(group.allreduce(cpu(), sample(DType::kI32, 2), ReduceOp::kAverage), Error);
}

TEST(DeviceCollectives, AFailureReportedOutsideACollectiveBreaksTheGroup) {
  MirroredPair group;
  try {
    group.fail("an allreduce of 8 f16 on the GPU did not complete within 5 s");
    FAIL() << "fail() returned";
  } catch (const DistTimeout& e) {
    EXPECT_STREQ(e.what(), "rank 0 of 2: an allreduce of 8 f16 on the GPU did not complete within 5 s");
  }
  try {
    group.allreduce(cpu(), sample(DType::kF16, 2), ReduceOp::kSum);
    FAIL() << "a broken group ran a collective";
  } catch (const DistTimeout& e) {
    EXPECT_NE(std::string(e.what()).find("broken process group (an allreduce of 8 f16"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(group.device_calls.empty());
}

}  // namespace
}  // namespace sprint::dist
