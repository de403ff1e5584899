// log_softmax.cpp: LogSoftmax layer.
#include "sprint/nn/log_softmax.h"

#include "sprint/ops/loss.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };
}

Shape LogSoftmax::output_shape(const Shape& input) const {
  SPRINT_CHECK(input.size() == 2, "LogSoftmax expects (N, K), got {}", input.to_string());
  return input;
}

Tensor LogSoftmax::forward(RunContext& ctx, const Tensor& x) {
  output_shape(x.shape());
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype());
  ops::log_softmax_forward(ctx.stream, {.x = x, .y = y});
  saved_y_.at(ctx.buffers) = y;
  return y;
}

Tensor LogSoftmax::backward(RunContext& ctx, const Tensor& dy) {
  const Tensor y = take_saved(ctx, saved_y_, "LogSoftmax");
  if (!needs_input_grad()) return Tensor();
  Tensor dx = workspace_.get(ctx.stream, ctx.buffers, kInputGrad, y.shape(), y.dtype());
  ops::log_softmax_backward(ctx.stream, {.dy = dy, .y = y, .dx = dx});
  return dx;
}

}  // namespace sprint::nn
