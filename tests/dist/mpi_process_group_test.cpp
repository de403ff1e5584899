// mpi_process_group_test.cpp: the MPI backend, run by CTest under `mpiexec -np 2` (every rank runs every test;
// a failure on either makes mpiexec fail). Results are checked on each rank against sums worked out by hand:
// rank r contributes values that depend on r. With --hang, rank 1 stops taking part and rank 0's allreduce
// must fail within the group's timeout with an error naming the rank (CTest matches the message). Also local SGD's
// model averaging (train/model_averaging.h), which needs two ranks.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sprint/dist/process_group.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "sprint/train/model_averaging.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::dist {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

ProcessGroup& group() {
  static std::unique_ptr<ProcessGroup> g = make_mpi_process_group(std::chrono::seconds(60));
  return *g;
}

std::vector<double> values(const Tensor& t) {
  const Tensor f64 = ops::cast_to(cpu(), t, DType::kF64);
  return {f64.data_as<double>(), f64.data_as<double>() + f64.numel()};
}

// Element i of rank r: (r + 1) * (i + 1), so the sum over ranks is (i + 1) * size * (size + 1) / 2.
Tensor contribution(DType dtype, int64_t n, int rank) {
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<double>((rank + 1) * (i + 1)));
  return ops::cast_to(cpu(), Tensor::from_values<double>(v, Shape{n}), dtype);
}

TEST(MpiProcessGroup, TwoRanks) {
  EXPECT_EQ(group().size(), 2);
  EXPECT_EQ(group().backend_name(), "mpi");
}

// Several all-reduces in flight at once (as gradient buckets during backward), polled, then waited in order; a
// blocking collective in between still pairs with the same one on the other rank.
TEST(MpiProcessGroup, AllreducesInFlightCompleteInOrder) {
  const int size = group().size(), rank = group().rank();
  const double ranks_sum = size * (size + 1) / 2.0;
  std::vector<Tensor> tensors;
  std::vector<std::unique_ptr<PendingCollective>> pending;
  for (int k = 0; k < 4; ++k) {
    tensors.push_back(contribution(k % 2 == 0 ? DType::kF32 : DType::kBF16, 1000 * (k + 1), rank));
    pending.push_back(group().allreduce_async(cpu(), tensors.back(), ReduceOp::kAverage));
    for (const auto& p : pending) (void)p->test();
  }
  const Tensor blocking = contribution(DType::kF64, 3, rank);
  group().allreduce(cpu(), blocking, ReduceOp::kSum);
  EXPECT_EQ(values(blocking), (std::vector<double>{ranks_sum, 2 * ranks_sum, 3 * ranks_sum}));
  for (size_t k = 0; k < pending.size(); ++k) {
    pending[k]->wait();
    EXPECT_TRUE(pending[k]->test());
    const std::vector<double> got = values(tensors[k]);
    for (size_t i = 0; i < got.size(); i += 97) {
      const double want = static_cast<double>(i + 1) * ranks_sum / size;
      ASSERT_NEAR(got[i], want, k % 2 == 0 ? 0.0 : want / 128) << k << " " << i;  // bf16: 8 significant bits
    }
  }
}

TEST(MpiProcessGroup, AllreduceSumsAndAveragesInEveryDtype) {
  const int size = group().size(), rank = group().rank();
  const double ranks_sum = size * (size + 1) / 2.0;
  for (DType dtype : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor t = contribution(dtype, 37, rank);
    group().allreduce(cpu(), t, ReduceOp::kSum);
    const std::vector<double> got = values(t);
    for (int64_t i = 0; i < 37; ++i) ASSERT_EQ(got[i], (i + 1) * ranks_sum) << i;
    if (dtype == DType::kI32 || dtype == DType::kI64) continue;
    const Tensor m = contribution(dtype, 5, rank);
    group().allreduce(cpu(), m, ReduceOp::kAverage);
    const std::vector<double> mean = values(m);
    for (int64_t i = 0; i < 5; ++i) ASSERT_EQ(mean[i], (i + 1) * ranks_sum / size) << i;
  }
}

TEST(MpiProcessGroup, LargeAllreduceInChunksOfThreads) {
  const int rank = group().rank();
  const Tensor t = ops::full(cpu(), Shape{1 << 20}, DType::kF32, rank == 0 ? 0.25 : 0.5);
  group().allreduce(cpu(), t, ReduceOp::kSum);
  const float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.numel(); i += 4099) ASSERT_EQ(p[i], 0.75f);
}

TEST(MpiProcessGroup, BroadcastTakesTheRootsValues) {
  const int rank = group().rank();
  for (int root = 0; root < group().size(); ++root) {
    const Tensor t = contribution(DType::kBF16, 9, rank);
    group().broadcast(cpu(), t, root);
    EXPECT_EQ(values(t), values(contribution(DType::kBF16, 9, root))) << "root " << root;
  }
}

TEST(MpiProcessGroup, AllgatherAndReduceScatterInRankOrder) {
  const int size = group().size(), rank = group().rank();
  const Tensor in = contribution(DType::kF32, 3, rank);
  const Tensor all = Tensor::empty(Shape{3 * size}, DType::kF32);
  group().allgather(cpu(), in, all);
  std::vector<double> expected;
  for (int r = 0; r < size; ++r)
    for (double v : values(contribution(DType::kF32, 3, r))) expected.push_back(v);
  EXPECT_EQ(values(all), expected);
  // reduce_scatter of 3·size elements: this rank gets elements [3·rank, 3·rank + 3) of the sum.
  const Tensor big = contribution(DType::kF64, 3 * size, rank);
  const Tensor mine = Tensor::empty(Shape{3}, DType::kF64);
  group().reduce_scatter(cpu(), big, mine, ReduceOp::kSum);
  const double ranks_sum = size * (size + 1) / 2.0;
  const std::vector<double> got = values(mine);
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], (3 * rank + i + 1) * ranks_sum);
  group().barrier();
}

// Local SGD's merge (train/model_averaging.h): rank r's weights and BatchNorm statistics are (r + 1) * (i + 1);
// after a merge over a mask that keeps every other conv weight, the kept entries and the statistics hold the mean
// (1.5 * (i + 1)), the others keep each rank's own value, and exactly the kept values and statistics were sent.
TEST(MpiProcessGroup, ModelAveragingMergesTheMaskedEntriesOnly) {
  const int rank = group().rank();
  Generator rng(1);
  nn::Sequential net;
  nn::ConvOptions conv(2, 4, 3);
  net.emplace<nn::Conv2d>(conv, rng);
  net.emplace<nn::BatchNorm2d>(nn::BatchNormOptions(4));
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(nn::LinearOptions(4, 3), rng);
  net.to_device(cpu());
  for (const nn::ParameterPtr& p : net.parameters()) p->load_value(cpu(), contribution(DType::kF32, p->value().numel(), rank).reshape(p->value().shape()));
  for (const nn::NamedBuffer& b : net.named_buffers())
    ops::copy(cpu(), contribution(DType::kF32, b.value.numel(), rank), b.value);
  train::ParameterMask mask = train::dense_mask(net);
  ASSERT_EQ(mask.entries[0].name, "0.weight");
  for (size_t i = 1; i < mask.entries[0].keep.size(); i += 2) mask.entries[0].keep[i] = 0;
  train::ModelAverager averager(net, &mask);
  const int64_t conv_weights = 4 * 2 * 3 * 3, dense = net.n_parameters() + 2 * 4;
  EXPECT_EQ(averager.dense_values_per_merge(), dense);
  EXPECT_EQ(averager.values_per_merge(), dense - conv_weights / 2);
  averager.merge(cpu(), group());
  EXPECT_EQ(averager.bytes_sent(), averager.values_per_merge() * 4);
  EXPECT_EQ(averager.masked_merges(), 1);
  const std::vector<double> w = values(net.parameters()[0]->value());
  for (size_t i = 0; i < w.size(); ++i)
    EXPECT_EQ(w[i], i % 2 == 0 ? 1.5 * static_cast<double>(i + 1) : (rank + 1.0) * static_cast<double>(i + 1)) << i;
  const std::vector<nn::ParameterPtr> params = net.parameters();
  for (size_t k = 1; k < params.size(); ++k) {
    const nn::ParameterPtr& p = params[k];
    const std::vector<double> v = values(p->value());
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], 1.5 * static_cast<double>(i + 1)) << p->name();
  }
  for (const nn::NamedBuffer& b : net.named_buffers()) {
    const std::vector<double> v = values(b.value);
    for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], 1.5 * static_cast<double>(i + 1)) << b.name;
  }
}

}  // namespace
}  // namespace sprint::dist

// --hang: rank 1 sleeps instead of joining rank 0's allreduce; rank 0 must report the timeout (2 s) and exit 3.
int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--hang") == 0) {
    using namespace sprint;
    auto g = dist::make_mpi_process_group(std::chrono::seconds(2));
    if (g->rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(60));
      return 0;
    }
    const auto start = std::chrono::steady_clock::now();
    try {
      const Tensor t = Tensor::empty(Shape{8}, DType::kF32);
      g->allreduce(cpu_context().compute_stream(), t, dist::ReduceOp::kSum);
    } catch (const dist::DistTimeout& e) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "sprint: error: %s (after %.1f s)\n", e.what(), s);
      std::fflush(stderr);
      std::_Exit(3);  // the job ends here: mpiexec stops the sleeping rank
    }
    std::fprintf(stderr, "allreduce completed without rank 1\n");
    return 1;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
