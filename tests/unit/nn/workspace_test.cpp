// workspace_test.cpp: buffers are reused across steps and shrink to views for a short last batch.
#include <gtest/gtest.h>

#include "sprint/nn/linear.h"
#include "sprint/nn/workspace.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::nn {
namespace {

TEST(Workspace, ReusesAndViews) {
  Workspace ws;
  const Stream s = cpu_context().compute_stream();
  const BufferKey mb0 = BufferKey::micro_batch(0);
  Tensor a = ws.get(s, mb0, 0, {64, 10}, DType::kF32);
  Tensor b = ws.get(s, mb0, 0, {64, 10}, DType::kF32);
  EXPECT_EQ(a.data(), b.data());
  Tensor c = ws.get(s, mb0, 0, {32, 10}, DType::kF32);
  EXPECT_EQ(c.data(), a.data());
  EXPECT_EQ(c.shape(), (Shape{32, 10}));
  Tensor other_micro_batch = ws.get(s, BufferKey::micro_batch(1), 0, {64, 10}, DType::kF32);
  EXPECT_NE(other_micro_batch.data(), a.data());
  Tensor evaluation = ws.get(s, BufferKey::evaluation(), 0, {64, 10}, DType::kF32);
  EXPECT_NE(evaluation.data(), a.data());
  EXPECT_NE(evaluation.data(), other_micro_batch.data());
  Tensor bigger = ws.get(s, mb0, 0, {128, 10}, DType::kF32);
  EXPECT_EQ(bigger.shape(), (Shape{128, 10}));
  EXPECT_EQ(ws.get(s, BufferKey::evaluation(), 0, {64, 10}, DType::kF32).data(), evaluation.data());
}

TEST(Workspace, SteadyStateTrainingStepAllocatesNothing) {
  Generator rng(0);
  Linear l(LinearOptions(16, 8).with_activation(Activation::kReLU), rng);
  l.set_needs_input_grad(true);
  RunContext ctx{cpu_context().compute_stream()};
  Tensor x = Tensor::from_values(std::vector<float>(4 * 16, 0.5f), {4, 16});
  Tensor dy = Tensor::from_values(std::vector<float>(4 * 8, 1.0f), {4, 8});
  l.forward(ctx, x);
  l.backward(ctx, dy);
  const int64_t before = cpu_allocator().stats().n_allocations;
  for (int i = 0; i < 10; ++i) {
    l.weight()->zero_grad();
    l.bias()->zero_grad();
    l.forward(ctx, x);
    l.backward(ctx, dy);
  }
  EXPECT_EQ(cpu_allocator().stats().n_allocations, before);
}

}  // namespace
}  // namespace sprint::nn
