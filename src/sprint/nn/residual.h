// residual.h: residual composition. Residual: y = body(x) + shortcut(x), the shortcut being the identity or a
// module; backward sums both branches' input gradients. ResidualBlock: ResNet's BasicBlock, conv3x3-BN-ReLU-
// conv3x3-BN plus a shortcut (identity, or conv1x1 with stride + BN when the shape changes), then ReLU.
#pragma once

#include "sprint/nn/layer_util.h"
#include "sprint/nn/module.h"
#include "sprint/nn/sequential.h"

namespace sprint::nn {

class Residual : public Module {
 public:
  /// `shortcut` null: identity. Both branches must produce the same shape (and memory format).
  explicit Residual(ModulePtr body, ModulePtr shortcut = nullptr);

  std::string type_name() const override { return "Residual"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  std::vector<std::pair<std::string, Module*>> children() override;
  void set_training(bool on) override;
  void set_needs_input_grad(bool on) override;

  Module& body() const { return *body_; }
  Module* shortcut() const { return shortcut_.get(); }

 protected:
  /// The names a LayerObserver hears for the branches (children()'s); an empty body name runs the body
  /// unobserved, so that its own children appear directly under this module.
  std::string body_name_ = "body", shortcut_name_ = "shortcut";

 private:
  ModulePtr body_, shortcut_;
};

struct ResidualBlockOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t stride = 1;
  double bn_eps = 1e-5;
  double bn_momentum = 0.1;
  DType dtype = DType::kF32;

  ResidualBlockOptions(int64_t in, int64_t out) : in_channels(in), out_channels(out) {}
  ResidualBlockOptions& with_stride(int64_t s) { stride = s; return *this; }
  ResidualBlockOptions& with_bn(double eps, double momentum) { bn_eps = eps; bn_momentum = momentum; return *this; }
  ResidualBlockOptions& with_dtype(DType d) { dtype = d; return *this; }
};

/// (N, in, H, W) -> (N, out, H / stride, W / stride). Parameter names as torchvision's BasicBlock: conv1.weight,
/// bn1.weight, ..., bn2.running_var, downsample.0.weight (the 1x1 conv), downsample.1.weight (its BN).
class ResidualBlock final : public Residual {
 public:
  ResidualBlock(const ResidualBlockOptions& options, Generator& rng);

  std::string type_name() const override { return "ResidualBlock"; }
  std::string describe() const override;
  /// The body's layers directly, then "downsample": torchvision's module paths.
  std::vector<std::pair<std::string, Module*>> children() override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;

 private:
  ResidualBlock(const ResidualBlockOptions& options, std::pair<ModulePtr, ModulePtr> branches);

  ResidualBlockOptions options_;
  PerBuffer<Tensor> saved_y_;  // output after the final ReLU
};

}  // namespace sprint::nn
