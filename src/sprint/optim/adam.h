// adam.h: Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), as torch.optim.Adam
// and torch.optim.AdamW (amsgrad off): m = b1·m + (1 − b1)·g; v = b2·v + (1 − b2)·g²;
// p -= lr·(m / (1 − b1^t)) / (sqrt(v / (1 − b2^t)) + eps). The step count t reaches the kernels with the other
// per-step values (StepValue::kStep), so the bias corrections need no host value baked into a launch.
#pragma once

#include "sprint/optim/optimizer.h"

namespace sprint::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  ///< AdamW

  explicit AdamOptions(double learning_rate = 1e-3) : lr(learning_rate) {}
  AdamOptions& with_betas(double b1, double b2) { beta1 = b1; beta2 = b2; return *this; }
  AdamOptions& with_eps(double e) { eps = e; return *this; }
  AdamOptions& with_weight_decay(double wd) { weight_decay = wd; return *this; }
  /// AdamW: p -= lr·wd·p before the Adam step, instead of adding wd·p to the gradient.
  AdamOptions& decoupled(bool on = true) { decoupled_weight_decay = on; return *this; }
};

class Adam final : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options);
  std::string describe() const override;
  /// "<param>.exp_avg" and "<param>.exp_avg_sq" for every parameter updated at least once.
  std::vector<StateSlot> state_slots() override;
  const AdamOptions& options() const { return options_; }

 private:
  void update_set(const Stream& stream, size_t b, const std::vector<size_t>& active,
                     const Tensor& step_values) override;
  double step_momentum() const override { return options_.beta1; }

  AdamOptions options_;
  std::vector<std::vector<Tensor>> exp_avg_, exp_avg_sq_;  // [members][param]; undefined until first update
  std::vector<Tensor> values_, grads_, m_, v_, copies_;    // reused every step (copies_: mixed precision)
  std::vector<Tensor> step_masks_;                          // sparse training: update masks (undefined: none)
};

}  // namespace sprint::optim
