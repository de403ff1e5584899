// buffer_pool_test.cpp: BufferPool hands out only blocks no one holds, reuses them once released for any shape
// that fits (the smallest that does; blocked padding channels zeroed), and a residual network trained with one
// gives the same losses as with per-layer buffers, with a lower peak and no allocation in steady-state steps.
#include <gtest/gtest.h>

#include <cstring>

#include "sprint/nn/buffer_pool.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

TEST(BufferPool, HandsOutOnlyBlocksNoOneHolds) {
  BufferPool pool;
  const Stream s = cpu_context().compute_stream();
  Tensor a = pool.acquire(s, {4, 8}, DType::kF32);
  Tensor b = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_NE(a.data(), b.data()) << "a held block was handed out again";
  EXPECT_EQ(pool.size(), 2u);
  void* freed = a.data();
  a = Tensor();  // released
  Tensor c = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_EQ(c.data(), freed);
  EXPECT_EQ(pool.size(), 2u);
  // A smaller tensor of another shape and dtype fits in a free block; it holds the block.
  c = Tensor();
  Tensor other = pool.acquire(s, {3, 5}, DType::kF64);
  EXPECT_EQ(other.data(), freed);
  EXPECT_EQ(other.shape(), (Shape{3, 5}));
  EXPECT_EQ(other.dtype(), DType::kF64);
  Tensor d = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_NE(d.data(), freed);
  EXPECT_NE(d.data(), b.data());
  EXPECT_EQ(pool.size(), 3u);
  // A request larger than every free block makes a new one.
  void* b_block = b.data();
  b = Tensor();
  Tensor big = pool.acquire(s, {4, 9}, DType::kF32);
  EXPECT_NE(big.data(), b_block);
  EXPECT_EQ(pool.size(), 4u);
  pool.clear();
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(other.shape(), (Shape{3, 5})) << "handles outlive clear()";
}

TEST(BufferPool, TakesTheSmallestFreeBlockThatFits) {
  BufferPool pool;
  const Stream s = cpu_context().compute_stream();
  Tensor large = pool.acquire(s, {128}, DType::kF32);
  Tensor small = pool.acquire(s, {32}, DType::kF32);
  Tensor medium = pool.acquire(s, {64}, DType::kF32);
  void* small_block = small.data();
  void* medium_block = medium.data();
  large = small = medium = Tensor();
  EXPECT_EQ(pool.acquire(s, {20}, DType::kF32).data(), small_block);
  EXPECT_EQ(pool.acquire(s, {40}, DType::kF32).data(), medium_block);
  EXPECT_EQ(pool.bytes(), (128 + 32 + 64) * 4);
}

TEST(BufferPool, KeepsLargeBlocksForLargeRequests) {
  BufferPool pool;
  const Stream s = cpu_context().compute_stream();
  const int64_t large = int64_t{4} << 20;  // floats: 16 MiB
  void* block = pool.acquire(s, {large}, DType::kF32).data();  // released at once
  EXPECT_NE(pool.acquire(s, {large / 4}, DType::kF32).data(), block) << "a quarter-size tensor took the block";
  EXPECT_EQ(pool.size(), 2u);
  Tensor half = pool.acquire(s, {large / 2}, DType::kF32);
  EXPECT_EQ(half.data(), block) << "a half-size tensor may use it";
}

TEST(BufferPool, ReusedBlocksKeepBlockedPaddingChannelsAtZero) {
  BufferPool pool;
  const Stream s = cpu_context().compute_stream();
  Tensor dirty = pool.acquire(s, {2, 16, 3, 3}, DType::kF32);
  void* block = dirty.data();
  std::memset(dirty.data(), 0xff, dirty.n_bytes());  // NaN patterns everywhere
  dirty = Tensor();
  // 5 channels on 8-channel blocks: channels 5..7 pad the block and must read 0.
  Tensor blocked = pool.acquire(s, {2, 5, 3, 3}, DType::kF32, MemoryFormat::kChannelsBlocked8);
  ASSERT_EQ(blocked.data(), block);
  EXPECT_TRUE(blocked.is_channel_blocked());
  const float* p = blocked.data_as<float>();
  for (int64_t i = 0; i < blocked.storage_numel(); ++i) {
    if (i % 8 >= 5) {
      ASSERT_EQ(p[i], 0.0f) << "padding element " << i;
    }
  }
  blocked = Tensor();
  Tensor channels_last = pool.acquire(s, {2, 16, 3, 3}, DType::kF32, MemoryFormat::kChannelsLast);
  EXPECT_TRUE(channels_last.is_channels_last());
  EXPECT_EQ(channels_last.data(), block);
}

struct TrainingRun {
  std::vector<float> losses;
  int64_t peak_bytes = 0;
  int64_t steady_allocations = 0;
};

TrainingRun train(bool pooled) {
  Generator rng(7);
  Model model = build_model("resnet10", {3, 32, 32}, 10, rng);
  model.net->set_needs_input_grad(false);
  const Stream s = cpu_context().compute_stream();
  const Tensor x = testing::random_tensor({8, 3, 32, 32}, DType::kF32, rng);
  const Tensor labels = testing::random_labels(8, 10, rng);
  BufferPool pool;
  RunContext ctx{s, &rng};
  if (pooled) ctx.pool = &pool;
  optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(0.05).with_momentum(0.9));
  TrainingRun run;
  cpu_allocator().reset_peak_stats();
  const int64_t base = cpu_allocator().stats().allocated_bytes;
  int64_t allocations = 0;
  for (int step = 0; step < 5; ++step) {
    if (step == 2) allocations = cpu_allocator().stats().n_allocations;
    sgd.zero_grad();
    run.losses.push_back(model.loss->forward(ctx, model.net->forward(ctx, x), labels).to_vector<float>()[0]);
    model.net->backward(ctx, model.loss->backward(ctx));
    sgd.step(s);
  }
  run.steady_allocations = cpu_allocator().stats().n_allocations - allocations;
  run.peak_bytes = cpu_allocator().stats().peak_allocated_bytes - base;
  return run;
}

TEST(BufferPool, ResidualNetworkTrainsTheSameWithLessMemory) {
  const TrainingRun own = train(false), pooled = train(true);
  ASSERT_EQ(own.losses.size(), pooled.losses.size());
  for (size_t i = 0; i < own.losses.size(); ++i) EXPECT_EQ(own.losses[i], pooled.losses[i]) << "step " << i;
  EXPECT_EQ(pooled.steady_allocations, 0) << "steady-state steps allocated with the pool";
  EXPECT_LT(pooled.peak_bytes, own.peak_bytes * 3 / 4) << "the pool did not lower the peak";
}

}  // namespace
}  // namespace sprint::nn
