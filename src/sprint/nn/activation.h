// activation.h: element-wise layers, any shape and memory format. ReLU: y = max(x, 0) (backward from y);
// GELU: y = x·Φ(x), exact erf form as PyTorch's nn.GELU() (backward from x); Scale: y = factor·x (airbench's
// output multiplier).
#pragma once

#include "sprint/nn/module.h"

namespace sprint::nn {

class ReLU final : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  PerBuffer<Tensor> saved_y_;
};

class GELU final : public Module {
 public:
  std::string type_name() const override { return "GELU"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  PerBuffer<Tensor> saved_x_;
};

class Scale final : public Module {
 public:
  explicit Scale(double factor) : factor_(factor) {}
  std::string type_name() const override { return "Scale"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }
  double factor() const { return factor_; }

 private:
  double factor_;
  Shape input_shape_;
  MemoryFormat input_format_ = MemoryFormat::kContiguous;
};

}  // namespace sprint::nn
