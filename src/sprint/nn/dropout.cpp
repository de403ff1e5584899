// dropout.cpp: Dropout layer over ops::dropout_*.
#include "sprint/nn/dropout.h"

#include "sprint/ops/dropout.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };
}

Dropout::Dropout(double p) : p_(p) {
  SPRINT_CHECK(p >= 0.0 && p < 1.0, "Dropout probability must be in [0, 1), got {}", p);
}

std::string Dropout::describe() const {
  return fmt::format("Dropout(p {})", p_);
}

Tensor Dropout::forward(RunContext& ctx, const Tensor& x) {
  Saved& s = saved_.at(ctx.buffers);
  s.active = training() && p_ > 0.0;
  if (!s.active) return x;
  SPRINT_CHECK(ctx.rng != nullptr, "Dropout in training mode needs RunContext::rng");
  s.mask = {p_, ctx.rng->seed(), ctx.rng->reserve(static_cast<uint64_t>(x.numel())), ctx.philox_state};
  const MemoryFormat format = x.ndim() == 4 ? x.memory_format() : MemoryFormat::kContiguous;
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype(), format);
  ops::dropout_forward(ctx.stream, {.x = x, .y = y, .mask = s.mask});
  return y;
}

Tensor Dropout::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "Dropout");
  if (!needs_input_grad()) return Tensor();
  if (!s.active) return dy;
  const MemoryFormat format = dy.ndim() == 4 ? dy.memory_format() : MemoryFormat::kContiguous;
  Tensor dx = gradient_buffer(ctx, kInputGrad, dy.shape(), dy.dtype(), format);
  ops::dropout_backward(ctx.stream, {.dy = dy, .dx = dx, .mask = s.mask});
  return dx;
}

}  // namespace sprint::nn
