// buffer_pool_test.cpp: BufferPool hands out only buffers no one holds, reuses them once released (rows views for
// a smaller batch), and a residual network trained with one gives the same losses as with per-layer buffers,
// with a lower peak and no allocation in steady-state steps.
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

TEST(BufferPool, HandsOutOnlyBuffersNoOneHolds) {
  BufferPool pool;
  const Stream s = cpu_context().compute_stream();
  Tensor a = pool.acquire(s, {4, 8}, DType::kF32);
  Tensor b = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_NE(a.data(), b.data()) << "a held buffer was handed out again";
  EXPECT_EQ(pool.size(), 2u);
  void* freed = a.data();
  a = Tensor();  // released
  Tensor c = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_EQ(c.data(), freed);
  EXPECT_EQ(pool.size(), 2u);
  // A smaller batch is a view of a free buffer; the view holds it.
  c = Tensor();
  Tensor rows = pool.acquire(s, {2, 8}, DType::kF32);
  EXPECT_EQ(rows.data(), freed);
  EXPECT_EQ(rows.shape(), (Shape{2, 8}));
  Tensor d = pool.acquire(s, {4, 8}, DType::kF32);
  EXPECT_NE(d.data(), freed);
  EXPECT_NE(d.data(), b.data());
  // Other dtypes, trailing shapes and formats never share a buffer.
  b = Tensor();
  EXPECT_NE(pool.acquire(s, {4, 8}, DType::kF64).data(), nullptr);
  EXPECT_EQ(pool.size(), 4u);
  Tensor image = pool.acquire(s, {2, 16, 3, 3}, DType::kF32, MemoryFormat::kChannelsLast);
  EXPECT_TRUE(image.is_channels_last());
  image = Tensor();
  Tensor blocked = pool.acquire(s, {2, 16, 3, 3}, DType::kF32, MemoryFormat::kChannelsBlocked8);
  EXPECT_TRUE(blocked.is_channel_blocked());
  EXPECT_EQ(pool.size(), 6u);
  pool.clear();
  EXPECT_EQ(pool.size(), 0u);
  EXPECT_EQ(rows.shape(), (Shape{2, 8})) << "handles outlive clear()";
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
  if (pooled) ctx.gradients = &pool;
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
