// activation.h: element-wise activation layers. ReLU: y = max(x, 0), any shape and memory format.
#pragma once

#include "sprint/nn/module.h"

namespace sprint::nn {

class ReLU final : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }

 private:
  std::vector<Tensor> saved_y_;  // per slot
};

}  // namespace sprint::nn
