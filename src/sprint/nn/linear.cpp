// linear.cpp: Linear layer (forward/backward through ops::linear_*).
#include "sprint/nn/linear.h"

#include "sprint/nn/init.h"
#include "sprint/ops/linear.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad, kScratch };
}

Linear::Linear(const LinearOptions& options, Generator& rng) : options_(options) {
  SPRINT_CHECK(options.in_features > 0 && options.out_features > 0, "Linear needs positive sizes, got {} -> {}",
               options.in_features, options.out_features);
  Tensor w = Tensor::empty({options.out_features, options.in_features}, options.dtype);
  init::pytorch_default_weight(w, options.in_features, rng);
  weight_ = add_parameter(std::make_shared<Parameter>("weight", w));
  if (options.bias) {
    Tensor b = Tensor::empty({options.out_features}, options.dtype);
    init::pytorch_default_bias(b, options.in_features, rng);
    bias_ = add_parameter(std::make_shared<Parameter>("bias", b));
  }
}

Linear::Linear(const LinearOptions& options, ParameterPtr weight, ParameterPtr bias)
    : options_(options), weight_(std::move(weight)), bias_(std::move(bias)) {
  SPRINT_CHECK(weight_ != nullptr, "shared Linear needs a weight");
  check_shape(weight_->value(), {options.out_features, options.in_features}, "shared Linear weight");
  if (bias_) check_shape(bias_->value(), {options.out_features}, "shared Linear bias");
  options_.bias = bias_ != nullptr;
  add_parameter(weight_);
  if (bias_) add_parameter(bias_);
}

std::string Linear::describe() const {
  return fmt::format("Linear({} -> {}{}{})", options_.in_features, options_.out_features, options_.bias ? ", bias" : "",
                     options_.activation == Activation::kNone ? "" : ", fused " + std::string(activation_name(options_.activation)));
}

Shape Linear::output_shape(const Shape& input) const {
  SPRINT_CHECK(input.size() == 2 && input[1] == options_.in_features, "Linear({} -> {}) expects (N, {}), got {}",
               options_.in_features, options_.out_features, options_.in_features, input.to_string());
  return {input[0], options_.out_features};
}

Tensor Linear::forward(RunContext& ctx, const Tensor& x) {
  const Shape out_shape = output_shape(x.shape());
  Tensor y = output_buffer(ctx, kOutput, out_shape, x.dtype());
  ops::linear_forward(ctx.stream, {.x = x,
                                   .w = weight_->value(),
                                   .b = bias_ ? bias_->value() : kNoTensor,
                                   .y = y,
                                   .activation = options_.activation});
  Saved& s = saved_.at(ctx.buffers);
  s.x = x;
  s.y = y;
  return y;
}

Tensor Linear::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "Linear");
  const int64_t n = s.x.dim(0);
  Tensor dx = needs_input_grad() ? gradient_buffer(ctx, kInputGrad, s.x.shape(), s.x.dtype()) : Tensor();
  Tensor scratch = activation_needs_output(options_.activation)
                       ? workspace_.get(ctx.stream, ctx.buffers, kScratch, {n, options_.out_features}, dy.dtype())
                       : Tensor();
  const bool train_w = weight_->trainable();
  const bool train_b = bias_ && bias_->trainable();
  const GradMode w_mode = train_w ? weight_->take_grad_mode() : GradMode::kOverwrite;
  const GradMode b_mode = train_b ? bias_->take_grad_mode() : GradMode::kOverwrite;
  const bool split = train_w && train_b && w_mode != b_mode;  // shared weight with its own bias: rare
  ops::linear_backward(ctx.stream, {.dy = dy,
                                    .x = s.x,
                                    .w = weight_->value(),
                                    .y = s.y,
                                    .scratch = scratch,
                                    .dx = dx,
                                    .dw = train_w ? weight_->grad() : kNoTensor,
                                    .db = train_b && !split ? bias_->grad() : kNoTensor,
                                    .activation = options_.activation,
                                    .dx_mode = GradMode::kOverwrite,
                                    .param_mode = train_w ? w_mode : b_mode});
  if (split) {
    ops::linear_backward(ctx.stream, {.dy = dy, .x = s.x, .w = weight_->value(), .y = s.y, .scratch = scratch,
                                      .dx = kNoTensor, .dw = kNoTensor, .db = bias_->grad(),
                                      .activation = options_.activation, .param_mode = b_mode});
  }
  return dx;
}

}  // namespace sprint::nn
