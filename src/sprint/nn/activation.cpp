// activation.cpp: ReLU layer. Channels-last tensors are processed through their flat (contiguous) memory.
#include "sprint/nn/activation.h"

#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };

// Element-wise ops see any dense tensor as a flat vector.
Tensor flat(const Tensor& t) { return Tensor::wrap(t.data(), {t.storage_numel()}, t.dtype(), t.device()); }
}  // namespace

Tensor ReLU::forward(RunContext& ctx, const Tensor& x) {
  Tensor y = workspace_.get(ctx.stream, ctx.slot, kOutput, x.shape(), x.dtype(), x.memory_format());
  ops::relu_forward(ctx.stream, flat(x), flat(y));
  if (static_cast<size_t>(ctx.slot) >= saved_y_.size()) saved_y_.resize(static_cast<size_t>(ctx.slot) + 1);
  saved_y_[static_cast<size_t>(ctx.slot)] = y;
  return y;
}

Tensor ReLU::backward(RunContext& ctx, const Tensor& dy) {
  SPRINT_CHECK(static_cast<size_t>(ctx.slot) < saved_y_.size(), "ReLU::backward called before forward");
  const Tensor& y = saved_y_[static_cast<size_t>(ctx.slot)];
  if (!needs_input_grad()) return Tensor();
  SPRINT_CHECK(dy.shape() == y.shape() && dy.memory_format() == y.memory_format(),
               "ReLU::backward: dy {} does not match the output {}", dy.description(), y.description());
  Tensor dx = gradient_buffer(ctx, kInputGrad, y.shape(), y.dtype(), y.memory_format());
  ops::relu_backward(ctx.stream, {.dy = flat(dy), .y = flat(y), .dx = flat(dx)});
  return dx;
}

}  // namespace sprint::nn
