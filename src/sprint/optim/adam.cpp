// adam.cpp: Adam / AdamW through the fused ops::adam_update (one call per update set). Moments start at zero, in the
// parameter's dtype and memory format (blocked convolution weights included), on its device.
#include "sprint/optim/adam.h"

#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/device_context.h"

namespace sprint::optim {

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay), options_(options) {
  SPRINT_CHECK(options.beta1 >= 0.0 && options.beta1 < 1.0 && options.beta2 >= 0.0 && options.beta2 < 1.0,
               "Adam betas must be in [0, 1), got {} and {}", options.beta1, options.beta2);
  SPRINT_CHECK(options.eps > 0.0, "Adam eps must be > 0, got {}", options.eps);
  SPRINT_CHECK(options.weight_decay >= 0.0, "Adam weight decay must be >= 0, got {}", options.weight_decay);
  exp_avg_.resize(update_sets_.size());
  exp_avg_sq_.resize(update_sets_.size());
  size_t largest = 0;
  for (size_t b = 0; b < update_sets_.size(); ++b) {
    exp_avg_[b].resize(update_sets_[b].params.size());
    exp_avg_sq_[b].resize(update_sets_[b].params.size());
    largest = std::max(largest, update_sets_[b].params.size());
  }
  for (auto* v : {&values_, &grads_, &m_, &v_, &copies_}) v->reserve(largest);
}

std::string Adam::describe() const {
  return fmt::format("{}(lr={}, betas=({}, {}), eps={}, weight_decay={})",
                     options_.decoupled_weight_decay ? "AdamW" : "Adam", lr_, options_.beta1, options_.beta2,
                     options_.eps, options_.weight_decay);
}

void Adam::update_set(const Stream& stream, size_t b, const std::vector<size_t>& active,
                         const Tensor& step_values) {
  const UpdateSet& members = update_sets_[b];
  for (auto* v : {&values_, &grads_, &m_, &v_, &copies_, &step_masks_}) v->clear();
  for (size_t i : active) {
    const nn::Parameter& p = *members.params[i];
    const Tensor& value = p.master_value();  // the f32 master under mixed precision
    const MemoryFormat format = value.memory_format();
    for (Tensor* state : {&exp_avg_[b][i], &exp_avg_sq_[b][i]}) {
      if (!state->defined()) {
        *state = ops::full(stream, value.shape(), value.dtype(), 0.0, format);
      } else if (state->memory_format() != format) {  // the layer changed its weights' layout
        *state = ops::cast_to(stream, *state, state->dtype(), format);
      }
    }
    values_.push_back(value);
    grads_.push_back(p.grad());
    copies_.push_back(p.has_master() ? p.value() : Tensor());
    step_masks_.push_back(update_mask(stream, b, i));
    m_.push_back(exp_avg_[b][i]);
    v_.push_back(exp_avg_sq_[b][i]);
  }
  // lr, the gradient scale and the step count come from step_values; the rest is fixed for the update set.
  const AdamHyper hyper{.lr = lr_,
                        .beta1 = options_.beta1,
                        .beta2 = options_.beta2,
                        .eps = options_.eps,
                        .weight_decay = members.weight_decay,
                        .decoupled_weight_decay = options_.decoupled_weight_decay,
                        .grad_scale = 1.0,
                        .lr_scale = members.lr_scale};
  ops::adam_update(stream, {.params = values_,
                            .grads = grads_,
                            .exp_avg = m_,
                            .exp_avg_sq = v_,
                            .compute_copies = copies_,
                            .hyper = hyper,
                            .step = step_count_,
                            .masks = step_masks_,
                            .mask_mode = mask_mode(),
                            .step_values = step_values});
}

std::vector<StateSlot> Adam::state_slots() {
  std::vector<StateSlot> out;
  for (size_t b = 0; b < update_sets_.size(); ++b)
    for (size_t i = 0; i < update_sets_[b].params.size(); ++i) {
      out.push_back({update_sets_[b].params[i].get(), "exp_avg", &exp_avg_[b][i]});
      out.push_back({update_sets_[b].params[i].get(), "exp_avg_sq", &exp_avg_sq_[b][i]});
    }
  return out;
}

}  // namespace sprint::optim
