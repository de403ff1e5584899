// stream_event_test.cpp: the context's streams, cross-stream ordering with events and stream_wait, event
// queries, elapsed time, and error reporting from the CUDA runtime.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "sprint/ops/elementwise.h"

namespace sprint {
namespace {

class StreamEventTest : public testing::CudaTest {
 protected:
  // A large buffer so that the work takes long enough for ordering mistakes to show.
  static constexpr int64_t kN = int64_t{1} << 26;  // 64 Mi floats = 256 MiB
};

TEST_F(StreamEventTest, ComputeAndCopyStreamsAreDistinctNonNullStreams) {
  const Stream compute = context().compute_stream(), copy = context().copy_stream();
  EXPECT_NE(compute.native_handle(), nullptr);
  EXPECT_NE(copy.native_handle(), nullptr);
  EXPECT_FALSE(compute == copy);
  EXPECT_EQ(compute.device(), cuda_device(0));
  const Stream extra = context().create_stream();
  EXPECT_NE(extra.native_handle(), compute.native_handle());
  extra.synchronize();
}

TEST_F(StreamEventTest, EventOrdersCopyStreamAfterCompute) {
  Tensor big = Tensor::empty({kN}, DType::kF32, context().allocator());
  Tensor out = Tensor::empty({kN}, DType::kF32, context().host_allocator());
  const Stream compute = context().compute_stream(), copy = context().copy_stream();
  ops::fill(compute, big, 1.0);
  for (int i = 0; i < 4; ++i)
    ops::axpby(compute, {.a = big, .b = big, .out = big, .alpha = 1.0, .beta = 1.0});
  Event done(context());
  done.record(compute);
  done.block(copy);  // the copy stream waits on the device, the host does not
  context().copy_bytes(copy, out.data(), big.data(), big.n_bytes(), CopyKind::kDeviceToHost);
  copy.synchronize();
  EXPECT_TRUE(done.ready());
  const float* v = out.data_as<float>();
  for (int64_t i = 0; i < kN; i += 4099) ASSERT_EQ(v[i], 16.0f) << i;
  EXPECT_EQ(v[kN - 1], 16.0f);
}

TEST_F(StreamEventTest, StreamWaitOrdersWithoutHostBlocking) {
  Tensor big = Tensor::empty({kN}, DType::kF32, context().allocator());
  Tensor out = Tensor::empty({kN}, DType::kF32, context().host_allocator());
  const Stream compute = context().compute_stream(), copy = context().copy_stream();
  ops::fill(compute, big, 3.0);
  copy.wait_for(compute);
  context().copy_bytes(copy, out.data(), big.data(), big.n_bytes(), CopyKind::kDeviceToHost);
  copy.synchronize();
  const float* v = out.data_as<float>();
  for (int64_t i = 0; i < kN; i += 4099) ASSERT_EQ(v[i], 3.0f) << i;
  // Waiting on itself is a no-op.
  compute.wait_for(compute);
  compute.synchronize();
}

TEST_F(StreamEventTest, TimingEventsMeasureElapsedTime) {
  Tensor big = Tensor::empty({kN}, DType::kF32, context().allocator());
  Event start(context(), /*timing=*/true), stop(context(), /*timing=*/true);
  start.record(stream());
  for (int i = 0; i < 8; ++i) ops::fill(stream(), big, static_cast<double>(i) + 0.5);
  stop.record(stream());
  const float ms = stop.elapsed_ms_since(start);  // synchronises
  EXPECT_GT(ms, 0.0f);
  EXPECT_LT(ms, 10000.0f);
  EXPECT_TRUE(stop.ready());
  std::printf("8 fills of 256 MiB: %.3f ms (%.0f GB/s)\n", ms,
              8.0 * 4.0 * static_cast<double>(kN) / (ms * 1e6));
}

TEST_F(StreamEventTest, ElapsedTimeOfNonTimingEventsIsABackendError) {
  Event a(context()), b(context());
  a.record(stream());
  b.record(stream());
  EXPECT_THROW((void)b.elapsed_ms_since(a), BackendError);
  // The failure does not linger: later work and launch checks succeed.
  Tensor t = ops::full(stream(), {10}, DType::kF32, 1.0);
  EXPECT_EQ(values<float>(t)[9], 1.0f);
}

TEST_F(StreamEventTest, MovedEventsKeepTheirHandle) {
  Event a(context());
  void* handle = a.native_handle();
  Event b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.native_handle(), handle);
  b.record(stream());
  b.synchronize();
  EXPECT_TRUE(b.ready());
}

TEST_F(StreamEventTest, StreamOfAnotherContextIsRejected) {
  const Stream cpu = cpu_context().compute_stream();
  EXPECT_THROW(context().synchronize(cpu), InvalidArgument);
  EXPECT_THROW(ops::fill(cpu, Tensor::empty({4}, DType::kF32, context().allocator()), 1.0), InvalidArgument);
}

}  // namespace
}  // namespace sprint
