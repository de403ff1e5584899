// cast.cpp: the Cast layer.
#include "sprint/nn/cast.h"

#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };
}

std::string Cast::describe() const {
  return fmt::format("Cast(to {})", dtype_name(dtype_));
}

Tensor Cast::forward(RunContext& ctx, const Tensor& x) {
  SPRINT_CHECK(dtype_is_floating(x.dtype()), "Cast: the input must be floating, got {}", x.description());
  const size_t slot = static_cast<size_t>(ctx.slot);
  if (slot >= input_dtypes_.size()) input_dtypes_.resize(slot + 1, DType::kF32);
  input_dtypes_[slot] = x.dtype();
  if (x.dtype() == dtype_) return x;
  Tensor y = workspace_.get(ctx.stream, ctx.slot, kOutput, x.shape(), dtype_, x.memory_format());
  ops::copy(ctx.stream, x, y);
  return y;
}

Tensor Cast::backward(RunContext& ctx, const Tensor& dy) {
  const size_t slot = static_cast<size_t>(ctx.slot);
  SPRINT_CHECK(slot < input_dtypes_.size(), "Cast::backward called before forward");
  if (!needs_input_grad()) return Tensor();
  const DType input_dtype = input_dtypes_[slot];
  if (dy.dtype() == input_dtype) return dy;
  Tensor dx = gradient_buffer(ctx, kInputGrad, dy.shape(), input_dtype, dy.memory_format());
  ops::copy(ctx.stream, dy, dx);
  return dx;
}

}  // namespace sprint::nn
