// linear.h: Linear layer y = act(x · wᵀ + b), x (N, I) -> y (N, O); optional fused ReLU.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
  Activation activation = Activation::kNone;  ///< fused epilogue
  DType dtype = DType::kF32;

  LinearOptions(int64_t in, int64_t out) : in_features(in), out_features(out) {}
  LinearOptions& with_bias(bool on) { bias = on; return *this; }
  LinearOptions& with_activation(Activation a) { activation = a; return *this; }
  LinearOptions& with_dtype(DType d) { dtype = d; return *this; }
};

class Linear final : public Module {
 public:
  /// Parameters on the host, initialised as PyTorch does (U(±1/sqrt(in)) for weight and bias).
  Linear(const LinearOptions& options, Generator& rng);
  /// Shares an existing weight (and bias) with another Linear: weight sharing.
  Linear(const LinearOptions& options, ParameterPtr weight, ParameterPtr bias);

  std::string type_name() const override { return "Linear"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

  const ParameterPtr& weight() const { return weight_; }
  const ParameterPtr& bias() const { return bias_; }
  const LinearOptions& options() const { return options_; }

 private:
  struct Saved {
    Tensor x, y;
  };
  LinearOptions options_;
  ParameterPtr weight_;  // (O, I)
  ParameterPtr bias_;    // (O) or null
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
