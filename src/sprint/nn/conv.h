// conv.h: Conv2d layer, x (N, C, H, W) -> y (N, K, P, Q) in x's memory format (NCHW or NHWC), with an optional
// fused ReLU. Weights are (K, C/groups, R, S) contiguous; PyTorch's default initialisation.
#pragma once

#include "sprint/backend/api/conv.h"
#include "sprint/nn/layer_util.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

struct ConvOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 3;  ///< square R = S
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  Activation activation = Activation::kNone;  ///< fused epilogue
  DType dtype = DType::kF32;

  ConvOptions(int64_t in, int64_t out, int64_t kernel) : in_channels(in), out_channels(out), kernel_size(kernel) {}
  ConvOptions& with_stride(int64_t s) { stride = s; return *this; }
  ConvOptions& with_padding(int64_t p) { padding = p; return *this; }
  ConvOptions& with_dilation(int64_t d) { dilation = d; return *this; }
  ConvOptions& with_groups(int64_t g) { groups = g; return *this; }
  ConvOptions& with_bias(bool on) { bias = on; return *this; }
  ConvOptions& with_activation(Activation a) { activation = a; return *this; }
  ConvOptions& with_dtype(DType d) { dtype = d; return *this; }

  Conv2dParams params() const { return {stride, padding, dilation, groups}; }
};

class Conv2d final : public Module {
 public:
  /// Host parameters initialised as PyTorch does: weight and bias U(±1/sqrt(fan_in)), fan_in = C/groups·R·S.
  Conv2d(const ConvOptions& options, Generator& rng);

  std::string type_name() const override { return "Conv2d"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

  const ParameterPtr& weight() const { return weight_; }
  /// Uses `source`'s weight from now on (weight sharing): both layers read one value and add their weight
  /// gradients into one (summed over the uses). Throws InvalidArgument unless the weights have one shape and dtype.
  void share_weight(const Conv2d& source);
  const ParameterPtr& bias() const { return bias_; }
  const ConvOptions& options() const { return options_; }

 private:
  struct Saved {
    Tensor x;
    Tensor y;  // only with a fused activation, whose backward reads it
    Shape y_shape;
  };

  ConvOptions options_;
  ParameterPtr weight_;  // (K, C/G, R, S)
  ParameterPtr bias_;    // (K) or null
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
