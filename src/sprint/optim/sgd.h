// sgd.h: SGD with momentum, Nesterov momentum, dampening and (L2) weight decay, as torch.optim.SGD.
#pragma once

#include "sprint/optim/optimizer.h"

namespace sprint::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;

  explicit SGDOptions(double learning_rate = 0.01) : lr(learning_rate) {}
  SGDOptions& with_momentum(double m) { momentum = m; return *this; }
  SGDOptions& with_dampening(double d) { dampening = d; return *this; }
  SGDOptions& with_weight_decay(double wd) { weight_decay = wd; return *this; }
  SGDOptions& with_nesterov(bool on) { nesterov = on; return *this; }
};

class SGD final : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options);
  std::string describe() const override;
  std::vector<StateSlot> state_slots() override;
  const SGDOptions& options() const { return options_; }

 private:
  void update_set(const Stream& stream, size_t b, const std::vector<size_t>& active,
                     const Tensor& step_values) override;
  double step_momentum() const override { return options_.momentum; }

  SGDOptions options_;
  std::vector<std::vector<Tensor>> momentum_;  // [members][param]; undefined until first update
  std::vector<Tensor> values_, grads_, buffers_, fresh_values_, fresh_grads_, fresh_buffers_;  // reused
  std::vector<Tensor> copies_, fresh_copies_;  // mixed precision: compute copies (undefined: none)
  std::vector<Tensor> step_masks_, fresh_step_masks_;  // sparse training: update masks (undefined: none)
};

}  // namespace sprint::optim
