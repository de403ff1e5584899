// conv.cpp: Conv2d layer (forward/backward through ops::conv2d_*; fused ReLU masked with relu_backward). The output
// takes RunContext::activation_format when set (a plain input becomes channel-blocked at the first convolution);
// the input gradient always has the input's layout.
#include "sprint/nn/conv.h"

#include "sprint/nn/init.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad, kPreActivationGrad };
}

Conv2d::Conv2d(const ConvOptions& o, Generator& rng) : options_(o) {
  SPRINT_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel_size > 0,
               "Conv2d needs positive channels and kernel size, got {} -> {}, kernel {}", o.in_channels,
               o.out_channels, o.kernel_size);
  SPRINT_CHECK(o.groups >= 1 && o.in_channels % o.groups == 0 && o.out_channels % o.groups == 0,
               "Conv2d: {} -> {} channels are not divisible by groups = {}", o.in_channels, o.out_channels,
               o.groups);
  SPRINT_CHECK(o.stride >= 1 && o.padding >= 0 && o.dilation >= 1,
               "Conv2d needs stride >= 1, padding >= 0, dilation >= 1; got {}, {}, {}", o.stride, o.padding,
               o.dilation);
  const int64_t c_per_group = o.in_channels / o.groups;
  const int64_t fan_in = c_per_group * o.kernel_size * o.kernel_size;
  Tensor w = Tensor::empty({o.out_channels, c_per_group, o.kernel_size, o.kernel_size}, o.dtype);
  init::pytorch_default_weight(w, fan_in, rng);
  weight_ = add_parameter(std::make_shared<Parameter>("weight", w));
  if (o.bias) {
    Tensor b = Tensor::empty({o.out_channels}, o.dtype);
    init::pytorch_default_bias(b, fan_in, rng);
    bias_ = add_parameter(std::make_shared<Parameter>("bias", b));
  }
}

void Conv2d::share_weight(const Conv2d& source) {
  const Tensor& mine = weight_->value();
  const Tensor& theirs = source.weight_->value();
  SPRINT_CHECK(mine.shape() == theirs.shape() && mine.dtype() == theirs.dtype(),
               "Conv2d can share a weight of its own shape and dtype only: {} is {}, this layer's {}",
               source.describe(), theirs.description(), mine.description());
  replace_parameter(weight_, source.weight_);
  weight_ = source.weight_;
}

std::string Conv2d::describe() const {
  const ConvOptions& o = options_;
  std::string extra;
  if (o.stride != 1) extra += fmt::format(", stride {}", o.stride);
  if (o.padding != 0) extra += fmt::format(", padding {}", o.padding);
  if (o.dilation != 1) extra += fmt::format(", dilation {}", o.dilation);
  if (o.groups != 1) extra += fmt::format(", groups {}", o.groups);
  if (o.bias) extra += ", bias";
  if (o.activation != Activation::kNone) extra += ", fused " + std::string(activation_name(o.activation));
  return fmt::format("Conv2d({} -> {}, {}x{}{})", o.in_channels, o.out_channels, o.kernel_size, o.kernel_size,
                     extra);
}

Shape Conv2d::output_shape(const Shape& input) const {
  SPRINT_CHECK(input.size() == 4 && input[1] == options_.in_channels, "{} expects (N, {}, H, W), got {}",
               describe(), options_.in_channels, input.to_string());
  return ops::conv2d_output_shape(input, weight_->value().shape(), options_.params());
}

Tensor Conv2d::forward(RunContext& ctx, const Tensor& x) {
  const Shape out_shape = output_shape(x.shape());
  // The weight's compute dtype, which mixed precision changes after construction (options_.dtype is the master's).
  const DType compute = weight_->value().dtype();
  SPRINT_CHECK(x.dtype() == compute, "{} computes in {}, got input {}", describe(), dtype_name(compute),
               x.description());
  const MemoryFormat out_format = ctx.activation_format.value_or(x.memory_format());
  // Weights live in the layout the kernels read (converted once, on the first call that sees this input layout).
  weight_->convert_format(ctx.stream, ops::preferred_weight_format(ctx.stream, x, options_.groups));
  Tensor y = output_buffer(ctx, kOutput, out_shape, x.dtype(), out_format);
  ops::conv2d_forward(ctx.stream, {.x = x,
                                   .w = weight_->value(),
                                   .b = bias_ ? bias_->value() : kNoTensor,
                                   .y = y,
                                   .params = options_.params(),
                                   .activation = options_.activation});
  Saved& s = saved_.at(ctx.buffers);
  s.x = x;
  s.y_shape = y.shape();
  switch (options_.activation) {
    case Activation::kNone: s.y = Tensor(); break;  // the next layer keeps it if it needs it
    case Activation::kReLU: s.y = y; break;
  }
  return y;
}

Tensor Conv2d::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "Conv2d");
  SPRINT_CHECK(dy.shape() == s.y_shape, "{}: dy {} does not match the output shape {}", describe(),
               dy.description(), s.y_shape.to_string());
  const bool train_w = weight_->trainable();
  const bool train_b = bias_ && bias_->trainable();
  if (!train_w && !train_b && !needs_input_grad()) return Tensor();
  const Conv2dParams params = options_.params();
  // Gradient w.r.t. the pre-activation: dy masked by the fused ReLU.
  Tensor dpre = dy;
  switch (options_.activation) {
    case Activation::kNone: break;
    case Activation::kReLU:
      dpre = gradient_buffer(ctx, kPreActivationGrad, dy.shape(), dy.dtype(), s.y.memory_format());
      SPRINT_CHECK(same_memory_order(dy, s.y), "{}: dy {} is not in the output's memory format", describe(),
                   dy.description());
      ops::relu_backward(ctx.stream, {.dy = flat(dy), .y = flat(s.y), .dx = flat(dpre)});
      break;
  }
  const GradMode w_mode = train_w ? weight_->take_grad_mode() : GradMode::kOverwrite;
  const GradMode b_mode = train_b ? bias_->take_grad_mode() : GradMode::kOverwrite;
  if (train_w && train_b && w_mode != b_mode) {  // one of them was zeroed alone: two calls
    ops::conv2d_backward_weight(
        ctx.stream,
        {.dy = dpre, .x = s.x, .dw = weight_->grad(), .db = kNoTensor, .params = params, .mode = w_mode});
    ops::conv2d_backward_weight(
        ctx.stream,
        {.dy = dpre, .x = s.x, .dw = kNoTensor, .db = bias_->grad(), .params = params, .mode = b_mode});
  } else if (train_w || train_b) {
    ops::conv2d_backward_weight(ctx.stream, {.dy = dpre,
                                             .x = s.x,
                                             .dw = train_w ? weight_->grad() : kNoTensor,
                                             .db = train_b ? bias_->grad() : kNoTensor,
                                             .params = params,
                                             .mode = train_w ? w_mode : b_mode});
  }
  if (!needs_input_grad()) return Tensor();
  Tensor dx = gradient_buffer(ctx, kInputGrad, s.x.shape(), s.x.dtype(), s.x.memory_format());
  ops::conv2d_backward_data(ctx.stream, {.dy = dpre, .w = weight_->value(), .dx = dx, .params = params});
  return dx;
}

}  // namespace sprint::nn
