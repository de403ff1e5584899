// flatten.cpp: Flatten layer.
#include "sprint/nn/flatten.h"

#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };
}

Shape Flatten::output_shape(const Shape& input) const {
  SPRINT_CHECK(input.size() >= 1, "Flatten needs at least a batch dimension");
  int64_t features = 1;
  for (int i = 1; i < input.size(); ++i) features *= input[i];
  return {input[0], features};
}

Tensor Flatten::forward(RunContext& ctx, const Tensor& x) {
  const MemoryFormat format = x.memory_format();
  saved_.at(ctx.buffers) = {x.shape(), format};
  const Shape out = output_shape(x.shape());
  if (format == MemoryFormat::kContiguous) return x.reshape(out);
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype());  // contiguous NCHW copy
  ops::copy(ctx.stream, x, y);
  return y.reshape(out);
}

Tensor Flatten::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "Flatten");
  if (!needs_input_grad()) return Tensor();
  Tensor dy_shaped = dy.reshape(s.input_shape);
  if (s.format == MemoryFormat::kContiguous) return dy_shaped;
  Tensor dx = gradient_buffer(ctx, kInputGrad, s.input_shape, dy.dtype(), s.format);
  ops::copy(ctx.stream, dy_shaped, dx);
  return dx;
}

}  // namespace sprint::nn
