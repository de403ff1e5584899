// activation.cpp: ReLU, GELU and Scale layers. Channels-last and channel-blocked tensors are processed through
// their flat (dense) memory: element-wise ops do not care about the layout.
#include "sprint/nn/activation.h"

#include <fmt/format.h>

#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad };

// Element-wise ops see any dense tensor as a flat vector.
Tensor flat(const Tensor& t) { return Tensor::wrap(t.data(), {t.storage_numel()}, t.dtype(), t.device()); }

void check_matches(const Tensor& dy, const Tensor& ref, const char* layer) {
  SPRINT_CHECK(dy.shape() == ref.shape() && dy.memory_format() == ref.memory_format() && dy.dtype() == ref.dtype(),
               "{}::backward: dy {} does not match the forward tensor {}", layer, dy.description(),
               ref.description());
}
}  // namespace

Tensor ReLU::forward(RunContext& ctx, const Tensor& x) {
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype(), x.memory_format());
  ops::relu_forward(ctx.stream, flat(x), flat(y));
  saved_y_.at(ctx.buffers) = y;
  return y;
}

Tensor ReLU::backward(RunContext& ctx, const Tensor& dy) {
  const Tensor y = take_saved(ctx, saved_y_, "ReLU");
  if (!needs_input_grad()) return Tensor();
  check_matches(dy, y, "ReLU");
  Tensor dx = gradient_buffer(ctx, kInputGrad, y.shape(), y.dtype(), y.memory_format());
  ops::relu_backward(ctx.stream, {.dy = flat(dy), .y = flat(y), .dx = flat(dx)});
  return dx;
}

Tensor GELU::forward(RunContext& ctx, const Tensor& x) {
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype(), x.memory_format());
  ops::gelu_forward(ctx.stream, flat(x), flat(y));
  saved_x_.at(ctx.buffers) = x;
  return y;
}

Tensor GELU::backward(RunContext& ctx, const Tensor& dy) {
  const Tensor x = take_saved(ctx, saved_x_, "GELU");
  if (!needs_input_grad()) return Tensor();
  check_matches(dy, x, "GELU");
  Tensor dx = gradient_buffer(ctx, kInputGrad, x.shape(), x.dtype(), x.memory_format());
  ops::gelu_backward(ctx.stream, {.dy = flat(dy), .x = flat(x), .dx = flat(dx)});
  return dx;
}

std::string Scale::describe() const { return fmt::format("Scale(x {:g})", factor_); }

Tensor Scale::forward(RunContext& ctx, const Tensor& x) {
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype(), x.memory_format());
  ops::axpby(ctx.stream, {.a = flat(x), .b = flat(x), .out = flat(y), .alpha = factor_, .beta = 0.0});
  input_shape_ = x.shape();
  input_format_ = x.memory_format();
  return y;
}

Tensor Scale::backward(RunContext& ctx, const Tensor& dy) {
  if (!needs_input_grad()) return Tensor();
  SPRINT_CHECK(dy.shape() == input_shape_ && dy.memory_format() == input_format_,
               "Scale::backward: dy {} does not match the forward input", dy.description());
  Tensor dx = gradient_buffer(ctx, kInputGrad, dy.shape(), dy.dtype(), dy.memory_format());
  ops::axpby(ctx.stream, {.a = flat(dy), .b = flat(dy), .out = flat(dx), .alpha = factor_, .beta = 0.0});
  return dx;
}

}  // namespace sprint::nn
