// pool.cpp: pooling layers over ops/pool.h.
#include "sprint/nn/pool.h"

#include "sprint/ops/pool.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad, kIndices };

std::string window(const Pool2dParams& p) {
  return fmt::format("{}x{}, stride {}{}", p.kernel, p.kernel, p.stride,
                     p.padding ? fmt::format(", padding {}", p.padding) : std::string());
}

Shape global_output_shape(const char* name, const Shape& input) {
  SPRINT_CHECK(input.size() == 4, "{} expects (N, C, H, W), got {}", name, input.to_string());
  return {input[0], input[1]};
}
}  // namespace

// ------------------------------------------------------------------------------------------------------------
// MaxPool2d
// ------------------------------------------------------------------------------------------------------------
MaxPool2d::MaxPool2d(const PoolOptions& options) : params_(options.params()) {
  ops::pool2d_output_shape({1, 1, params_.kernel, params_.kernel}, params_);  // validates the window
}

std::string MaxPool2d::describe() const {
  return "MaxPool2d(" + window(params_) + ")";
}

Shape MaxPool2d::output_shape(const Shape& input) const {
  return ops::pool2d_output_shape(input, params_);
}

Tensor MaxPool2d::forward(RunContext& ctx, const Tensor& x) {
  const Shape out = output_shape(x.shape());
  Tensor y = output_buffer(ctx, kOutput, out, x.dtype(), x.memory_format());
  Tensor indices = output_buffer(ctx, kIndices, out, DType::kI32, y.memory_format());
  ops::max_pool2d_forward(ctx.stream, {.x = x, .y = y, .indices = indices, .params = params_});
  saved_.at(ctx.buffers) = {PoolInput::of(x), indices};
  return y;
}

Tensor MaxPool2d::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "MaxPool2d");
  if (!needs_input_grad()) return Tensor();
  Tensor dx = gradient_buffer(ctx, kInputGrad, s.x.shape, s.x.dtype, s.x.format);
  ops::max_pool2d_backward(ctx.stream, {.dy = dy, .indices = s.indices, .dx = dx, .params = params_});
  return dx;
}

// ------------------------------------------------------------------------------------------------------------
// AvgPool2d
// ------------------------------------------------------------------------------------------------------------
AvgPool2d::AvgPool2d(const PoolOptions& options) : params_(options.params()) {
  ops::pool2d_output_shape({1, 1, params_.kernel, params_.kernel}, params_);
}

std::string AvgPool2d::describe() const {
  return "AvgPool2d(" + window(params_) + (params_.count_include_pad ? "" : ", exclude padding") + ")";
}

Shape AvgPool2d::output_shape(const Shape& input) const {
  return ops::pool2d_output_shape(input, params_);
}

Tensor AvgPool2d::forward(RunContext& ctx, const Tensor& x) {
  Tensor y =
      output_buffer(ctx, kOutput, output_shape(x.shape()), x.dtype(), x.memory_format());
  ops::avg_pool2d_forward(ctx.stream, {.x = x, .y = y, .params = params_});
  saved_x_.at(ctx.buffers) = PoolInput::of(x);
  return y;
}

Tensor AvgPool2d::backward(RunContext& ctx, const Tensor& dy) {
  const PoolInput x = take_saved(ctx, saved_x_, "AvgPool2d");
  if (!needs_input_grad()) return Tensor();
  Tensor dx = gradient_buffer(ctx, kInputGrad, x.shape, x.dtype, x.format);
  ops::avg_pool2d_backward(ctx.stream, {.dy = dy, .dx = dx, .params = params_});
  return dx;
}

// ------------------------------------------------------------------------------------------------------------
// Global pooling
// ------------------------------------------------------------------------------------------------------------
Shape GlobalAvgPool2d::output_shape(const Shape& input) const {
  return global_output_shape("GlobalAvgPool2d", input);
}

Tensor GlobalAvgPool2d::forward(RunContext& ctx, const Tensor& x) {
  Tensor y = output_buffer(ctx, kOutput, output_shape(x.shape()), x.dtype());
  ops::global_avg_pool2d_forward(ctx.stream, {.x = x, .y = y, .indices = kNoTensor});
  saved_x_.at(ctx.buffers) = PoolInput::of(x);
  return y;
}

Tensor GlobalAvgPool2d::backward(RunContext& ctx, const Tensor& dy) {
  const PoolInput x = take_saved(ctx, saved_x_, "GlobalAvgPool2d");
  if (!needs_input_grad()) return Tensor();
  Tensor dx = gradient_buffer(ctx, kInputGrad, x.shape, x.dtype, x.format);
  ops::global_avg_pool2d_backward(ctx.stream, {.dy = dy, .indices = kNoTensor, .dx = dx});
  return dx;
}

Shape GlobalMaxPool2d::output_shape(const Shape& input) const {
  return global_output_shape("GlobalMaxPool2d", input);
}

Tensor GlobalMaxPool2d::forward(RunContext& ctx, const Tensor& x) {
  const Shape out = output_shape(x.shape());
  Tensor y = output_buffer(ctx, kOutput, out, x.dtype());
  Tensor indices = output_buffer(ctx, kIndices, out, DType::kI32);
  ops::global_max_pool2d_forward(ctx.stream, {.x = x, .y = y, .indices = indices});
  saved_.at(ctx.buffers) = {PoolInput::of(x), indices};
  return y;
}

Tensor GlobalMaxPool2d::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "GlobalMaxPool2d");
  if (!needs_input_grad()) return Tensor();
  Tensor dx = gradient_buffer(ctx, kInputGrad, s.x.shape, s.x.dtype, s.x.format);
  ops::global_max_pool2d_backward(ctx.stream, {.dy = dy, .indices = s.indices, .dx = dx});
  return dx;
}

}  // namespace sprint::nn
