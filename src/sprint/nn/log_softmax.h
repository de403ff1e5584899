// log_softmax.h: LogSoftmax over the class dimension, (N, K) -> (N, K). Pair with NllLoss (seed 003's recipe).
#pragma once

#include "sprint/nn/module.h"

namespace sprint::nn {

class LogSoftmax final : public Module {
 public:
  std::string type_name() const override { return "LogSoftmax"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;

 private:
  PerBuffer<Tensor> saved_y_;
};

}  // namespace sprint::nn
