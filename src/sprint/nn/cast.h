// cast.h: Cast, a layer that converts its input to another dtype (same shape and layout) and its gradient
// back to the input's dtype. Mixed precision puts one at each edge of a network: f32 inputs into the f16/bf16
// layers, and their f16/bf16 logits back to f32 for the loss. Parameter-free.
#pragma once

#include "sprint/nn/module.h"

namespace sprint::nn {

class Cast final : public Module {
 public:
  explicit Cast(DType dtype) : dtype_(dtype) {}

  std::string type_name() const override { return "Cast"; }
  std::string describe() const override;
  /// x (any shape, any floating dtype) -> y, x's values rounded to dtype (x itself when already of it).
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  /// dy (dtype) -> dx in the forward input's dtype.
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }
  DType dtype() const { return dtype_; }

 private:
  DType dtype_;
  PerBuffer<DType> input_dtypes_;
};

}  // namespace sprint::nn
