// sgd.cpp: SGD through the fused ops::sgd_update (one call per update set; a second one the first time a
// parameter's momentum buffer is initialised from its gradient).
#include "sprint/optim/sgd.h"

#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/device_context.h"

namespace sprint::optim {

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay), options_(options) {
  SPRINT_CHECK(options.momentum >= 0.0 && options.momentum < 1.0 + 1e-12, "SGD momentum must be in [0, 1], got {}",
               options.momentum);
  SPRINT_CHECK(options.weight_decay >= 0.0, "SGD weight decay must be >= 0, got {}", options.weight_decay);
  SPRINT_CHECK(!options.nesterov || (options.momentum > 0.0 && options.dampening == 0.0),
               "Nesterov momentum requires momentum > 0 and zero dampening");
  momentum_.resize(update_sets_.size());
  size_t largest = 0;
  for (size_t b = 0; b < update_sets_.size(); ++b) {
    momentum_[b].resize(update_sets_[b].params.size());
    largest = std::max(largest, update_sets_[b].params.size());
  }
  for (auto* v :
       {&values_, &grads_, &buffers_, &fresh_values_, &fresh_grads_, &fresh_buffers_, &copies_, &fresh_copies_,
        &step_masks_, &fresh_step_masks_})
    v->reserve(largest);
}

std::string SGD::describe() const {
  return fmt::format("SGD(lr={}, momentum={}, dampening={}, weight_decay={}, nesterov={})", lr_, options_.momentum,
                     options_.dampening, options_.weight_decay, options_.nesterov);
}

void SGD::update_set(const Stream& stream, size_t b, const std::vector<size_t>& active,
                        const Tensor& step_values) {
  const UpdateSet& members = update_sets_[b];
  const bool with_momentum = options_.momentum != 0.0;
  for (auto* v : {&values_, &grads_, &buffers_, &fresh_values_, &fresh_grads_, &fresh_buffers_, &copies_,
                  &fresh_copies_, &step_masks_, &fresh_step_masks_})
    v->clear();
  for (size_t i : active) {
    const nn::Parameter& p = *members.params[i];
    const Tensor& value = p.master_value();  // the f32 master under mixed precision
    Tensor& buf = momentum_[b][i];
    const bool fresh = with_momentum && !buf.defined();
    if (fresh) {
      buf = Tensor::empty(value.shape(), value.dtype(), stream.allocator(), value.memory_format());
    } else if (with_momentum && buf.memory_format() != value.memory_format()) {
      buf = ops::cast_to(stream, buf, buf.dtype(), value.memory_format());  // the layer changed its layout
    }
    (fresh ? fresh_values_ : values_).push_back(value);
    (fresh ? fresh_grads_ : grads_).push_back(p.grad());
    (fresh ? fresh_copies_ : copies_).push_back(p.has_master() ? p.value() : Tensor());
    (fresh ? fresh_step_masks_ : step_masks_).push_back(update_mask(stream, b, i));
    if (with_momentum) (fresh ? fresh_buffers_ : buffers_).push_back(buf);
  }
  // lr, momentum and the gradient scale come from step_values; the rest is fixed for the update set.
  SgdHyper hyper{.lr = lr_,
                 .momentum = options_.momentum,
                 .dampening = options_.dampening,
                 .weight_decay = members.weight_decay,
                 .nesterov = options_.nesterov,
                 .grad_scale = 1.0,
                 .lr_scale = members.lr_scale};
  if (!fresh_values_.empty())
    ops::sgd_update(stream, {.params = fresh_values_, .grads = fresh_grads_, .momentum_buffers = fresh_buffers_,
                             .compute_copies = fresh_copies_, .hyper = hyper, .first_step = true,
                             .masks = fresh_step_masks_, .mask_mode = mask_mode(), .step_values = step_values});
  if (!values_.empty())
    ops::sgd_update(stream, {.params = values_, .grads = grads_, .momentum_buffers = buffers_,
                             .compute_copies = copies_, .hyper = hyper, .first_step = false,
                             .masks = step_masks_, .mask_mode = mask_mode(), .step_values = step_values});
}

std::vector<StateSlot> SGD::state_slots() {
  std::vector<StateSlot> out;
  if (options_.momentum == 0.0) return out;
  for (size_t b = 0; b < update_sets_.size(); ++b)
    for (size_t i = 0; i < update_sets_[b].params.size(); ++i)
      out.push_back({update_sets_[b].params[i].get(), "momentum_buffer", &momentum_[b][i]});
  return out;
}

}  // namespace sprint::optim
