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
  input_dtypes_.at(ctx.buffers) = x.dtype();
  if (x.dtype() == dtype_) return x;
  Tensor y = output_buffer(ctx, kOutput, x.shape(), dtype_, x.memory_format());
  ops::copy(ctx.stream, x, y);
  return y;
}

Tensor Cast::backward(RunContext& ctx, const Tensor& dy) {
  const DType input_dtype = input_dtypes_.saved(ctx.buffers, "Cast");
  if (!needs_input_grad()) return Tensor();
  if (dy.dtype() == input_dtype) return dy;
  Tensor dx = gradient_buffer(ctx, kInputGrad, dy.shape(), input_dtype, dy.memory_format());
  ops::copy(ctx.stream, dy, dx);
  return dx;
}

}  // namespace sprint::nn
