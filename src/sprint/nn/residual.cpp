// residual.cpp: Residual (body + shortcut, summed with ops::axpby) and ResidualBlock (BasicBlock + output
// ReLU).
#include "sprint/nn/residual.h"

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/layer_observer.h"
#include "sprint/ops/elementwise.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad, kBlockOutput, kBlockGrad };

// out = a + b over dense tensors of one shape and memory order.
void add(const Stream& stream, const Tensor& a, const Tensor& b, const Tensor& out, const char* what) {
  SPRINT_CHECK(a.shape() == b.shape() && same_memory_order(a, b),
               "Residual: the branches' {} differ: {} vs {}", what, a.description(), b.description());
  ops::axpby(stream, {.a = flat(a), .b = flat(b), .out = flat(out)});
}

MemoryFormat format_of(const Tensor& t) {
  return t.ndim() == 4 ? t.memory_format() : MemoryFormat::kContiguous;
}
}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Residual
// ------------------------------------------------------------------------------------------------------------
Residual::Residual(ModulePtr body, ModulePtr shortcut)
    : body_(std::move(body)), shortcut_(std::move(shortcut)) {
  SPRINT_CHECK(body_ != nullptr, "Residual needs a body");
  set_training(training());
}

std::string Residual::describe() const {
  return fmt::format("{}(body {}, shortcut {})", type_name(), body_->describe(),
                     shortcut_ ? shortcut_->describe() : "identity");
}

Shape Residual::output_shape(const Shape& input) const {
  const Shape out = body_->output_shape(input);
  const Shape skip = shortcut_ ? shortcut_->output_shape(input) : input;
  SPRINT_CHECK(out == skip, "{}: body gives {} but the shortcut gives {} for input {}", type_name(),
               out.to_string(), skip.to_string(), input.to_string());
  return out;
}

std::vector<std::pair<std::string, Module*>> Residual::children() {
  std::vector<std::pair<std::string, Module*>> out{{"body", body_.get()}};
  if (shortcut_) out.emplace_back("shortcut", shortcut_.get());
  return out;
}

void Residual::set_training(bool on) {
  Module::set_training(on);
  body_->set_training(on);
  if (shortcut_) shortcut_->set_training(on);
}

void Residual::set_needs_input_grad(bool on) {
  Module::set_needs_input_grad(on);
  body_->set_needs_input_grad(on);
  if (shortcut_) shortcut_->set_needs_input_grad(on);
}

Tensor Residual::forward(RunContext& ctx, const Tensor& x) {
  const Tensor out = body_name_.empty() ? body_->forward(ctx, x) : forward_child(ctx, body_name_, *body_, x);
  const Tensor skip = shortcut_ ? forward_child(ctx, shortcut_name_, *shortcut_, x) : x;
  Tensor y = output_buffer(ctx, kOutput, out.shape(), out.dtype(), format_of(out));
  add(ctx.stream, out, skip, y, "outputs");
  return y;
}

Tensor Residual::backward(RunContext& ctx, const Tensor& dy) {
  const Tensor d_body = body_name_.empty() ? body_->backward(ctx, dy) : backward_child(ctx, body_name_, *body_, dy);
  const Tensor d_skip = shortcut_ ? backward_child(ctx, shortcut_name_, *shortcut_, dy) : dy;
  if (!needs_input_grad()) return Tensor();
  SPRINT_CHECK(d_body.defined() && d_skip.defined(), "{}: a branch returned no input gradient", type_name());
  Tensor dx =
      gradient_buffer(ctx, kInputGrad, d_body.shape(), d_body.dtype(), format_of(d_body));
  add(ctx.stream, d_body, d_skip, dx, "input gradients");
  return dx;
}

// ------------------------------------------------------------------------------------------------------------
// ResidualBlock
// ------------------------------------------------------------------------------------------------------------
namespace {
std::pair<ModulePtr, ModulePtr> basic_block_branches(const ResidualBlockOptions& o, Generator& rng) {
  auto conv = [&](int64_t in, int64_t out, int64_t kernel, int64_t stride) {
    return std::make_shared<Conv2d>(ConvOptions(in, out, kernel)
                                        .with_stride(stride)
                                        .with_padding(kernel / 2)
                                        .with_bias(false)
                                        .with_dtype(o.dtype),
                                    rng);
  };
  auto bn = [&](int64_t c) {
    return std::make_shared<BatchNorm2d>(
        BatchNormOptions(c).with_eps(o.bn_eps).with_momentum(o.bn_momentum).with_dtype(o.dtype));
  };
  auto body = std::make_shared<Sequential>();
  body->add(conv(o.in_channels, o.out_channels, 3, o.stride), "conv1");
  body->add(bn(o.out_channels), "bn1");
  body->add(std::make_shared<ReLU>(), "relu");
  body->add(conv(o.out_channels, o.out_channels, 3, 1), "conv2");
  body->add(bn(o.out_channels), "bn2");
  if (o.stride == 1 && o.in_channels == o.out_channels) return {body, nullptr};
  auto shortcut = std::make_shared<Sequential>();  // torchvision's downsample: 0 = conv, 1 = BN
  shortcut->add(conv(o.in_channels, o.out_channels, 1, o.stride));
  shortcut->add(bn(o.out_channels));
  return {body, shortcut};
}
}  // namespace

ResidualBlock::ResidualBlock(const ResidualBlockOptions& options, Generator& rng)
    : ResidualBlock(options, basic_block_branches(options, rng)) {}

ResidualBlock::ResidualBlock(const ResidualBlockOptions& options, std::pair<ModulePtr, ModulePtr> branches)
    : Residual(std::move(branches.first), std::move(branches.second)), options_(options) {
  // Observed paths follow children(): the body's layers sit directly under the block, the shortcut is
  // torchvision's "downsample".
  body_name_.clear();
  shortcut_name_ = "downsample";
  SPRINT_CHECK(options.in_channels > 0 && options.out_channels > 0 && options.stride >= 1,
               "ResidualBlock needs positive channels and stride, got {} -> {}, stride {}",
               options.in_channels, options.out_channels, options.stride);
}

std::vector<std::pair<std::string, Module*>> ResidualBlock::children() {
  std::vector<std::pair<std::string, Module*>> out = body().children();  // conv1, bn1, relu, conv2, bn2
  if (shortcut()) out.emplace_back("downsample", shortcut());
  return out;
}

std::string ResidualBlock::describe() const {
  return fmt::format("ResidualBlock({} -> {}, stride {}, shortcut {})", options_.in_channels,
                     options_.out_channels, options_.stride, shortcut() ? "conv1x1 + BN" : "identity");
}

Tensor ResidualBlock::forward(RunContext& ctx, const Tensor& x) {
  const Tensor sum = Residual::forward(ctx, x);
  Tensor y = output_buffer(ctx, kBlockOutput, sum.shape(), sum.dtype(), format_of(sum));
  ops::relu_forward(ctx.stream, flat(sum), flat(y));
  saved_y_.at(ctx.buffers) = y;
  return y;
}

Tensor ResidualBlock::backward(RunContext& ctx, const Tensor& dy) {
  const Tensor y = take_saved(ctx, saved_y_, "ResidualBlock");
  SPRINT_CHECK(dy.shape() == y.shape() && same_memory_order(dy, y), "{}: dy {} does not match the output {}",
               describe(), dy.description(), y.description());
  Tensor dsum = gradient_buffer(ctx, kBlockGrad, y.shape(), y.dtype(), format_of(y));
  ops::relu_backward(ctx.stream, {.dy = flat(dy), .y = flat(y), .dx = flat(dsum)});
  return Residual::backward(ctx, dsum);
}

}  // namespace sprint::nn
