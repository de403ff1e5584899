// flatten.h: Flatten, (N, d1, d2, ...) -> (N, d1·d2·...) in logical (row-major, NCHW) order. A view when the
// input is contiguous; a copy when it is channels-last.
#pragma once

#include "sprint/nn/module.h"

namespace sprint::nn {

class Flatten final : public Module {
 public:
  std::string type_name() const override { return "Flatten"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;

 private:
  struct Saved {
    Shape input_shape;
    MemoryFormat format = MemoryFormat::kContiguous;
  };
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
