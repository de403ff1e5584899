// weight_versions.cpp: stashing and SpecTrain's predicted weights for one pipeline stage.
#include "sprint/train/weight_versions.h"

#include <cmath>

#include "sprint/core/error.h"
#include "sprint/nn/layer_util.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"

namespace sprint::train {
namespace {

// Forwards sampled for the prediction error: one in this many (each sample keeps two host copies of the
// weights).
constexpr int64_t kSampleEvery = 8;

std::vector<float> host_values(const Stream& stream, const Tensor& t) {
  return ops::to_host(stream, ops::cast_to(stream, nn::flat(t), DType::kF32)).to_vector<float>();
}

}  // namespace

const char* weight_policy_name(WeightPolicy policy) {
  switch (policy) {
    case WeightPolicy::kNone:
      return "none";
    case WeightPolicy::kStash:
      return "stash";
    case WeightPolicy::kSpecTrain:
      return "spectrain";
    case WeightPolicy::kSync:
      return "sync";
  }
  return "?";
}

WeightPolicy parse_weight_policy(std::string_view name) {
  for (WeightPolicy p :
       {WeightPolicy::kNone, WeightPolicy::kStash, WeightPolicy::kSpecTrain, WeightPolicy::kSync})
    if (name == weight_policy_name(p)) return p;
  SPRINT_CHECK(false, "unknown weight policy '{}' (none, stash, spectrain, sync)", name);
  return WeightPolicy::kNone;
}

void predict_weight(const Stream& stream, const Tensor& value, const Tensor& velocity,
                    const Tensor& last_grad, double lr, double momentum, int64_t updates_ahead,
                    const Tensor& out) {
  SPRINT_CHECK(updates_ahead >= 0, "a prediction looks ahead by >= 0 updates, got {}", updates_ahead);
  SPRINT_CHECK(out.shape() == value.shape() && out.memory_format() == value.memory_format(),
               "predict_weight: out {} is not shaped like the value {}", out.description(),
               value.description());
  const Tensor w = nn::flat(value), o = nn::flat(out);
  if (w.data() != o.data()) ops::copy(stream, w, o);
  if (updates_ahead == 0 || lr == 0.0 || !last_grad.defined()) return;
  const double step = -static_cast<double>(updates_ahead) * lr;
  SPRINT_CHECK(last_grad.storage_numel() == value.storage_numel(),
               "predict_weight: gradient {} does not match {}", last_grad.description(), value.description());
  // o = W - s·lr·g - s·lr·momentum·v
  ops::axpby(stream, {.a = nn::flat(last_grad), .b = o, .out = o, .alpha = step, .beta = 1.0});
  if (velocity.defined() && momentum != 0.0) {
    SPRINT_CHECK(velocity.storage_numel() == value.storage_numel(),
                 "predict_weight: velocity {} does not match {}", velocity.description(),
                 value.description());
    ops::axpby(stream, {.a = nn::flat(velocity), .b = o, .out = o, .alpha = step * momentum, .beta = 1.0});
  }
}

StageWeights::StageWeights(std::vector<nn::ParameterPtr> params, optim::Optimizer& optimizer,
                           WeightPolicy policy, VersionDifference spectrain)
    : params_(std::move(params)), optimizer_(optimizer), policy_(policy), spectrain_(spectrain) {
  if (policy_ == WeightPolicy::kSpecTrain) {
    std::vector<optim::StateSlot> slots = optimizer_.state_slots();
    for (const nn::ParameterPtr& p : params_) {
      Tensor* velocity = nullptr;
      for (const optim::StateSlot& s : slots)
        if (s.param == p.get() && s.kind == "momentum_buffer") velocity = s.tensor;
      SPRINT_CHECK(
          velocity != nullptr,
          "the spectrain weight policy predicts along SGD's momentum: {} has no momentum buffer in {} (use "
          "--optimizer sgd)",
          p->name(), optimizer_.describe());
      velocities_.push_back(velocity);
    }
  }
}

void StageWeights::copy_values_to(const Stream& stream, std::vector<Tensor>& copies) const {
  if (copies.size() != params_.size()) {  // made on first use, shaped and laid out like the values
    copies.clear();
    for (const nn::ParameterPtr& p : params_)
      copies.push_back(Tensor::empty(p->value().shape(), p->value().dtype(), stream.allocator(),
                                     p->value().memory_format()));
  }
  for (size_t i = 0; i < params_.size(); ++i)
    ops::copy(stream, nn::flat(params_[i]->value()), nn::flat(copies[i]));
}

void StageWeights::copy_values_from(const Stream& stream, const std::vector<Tensor>& copies) const {
  for (size_t i = 0; i < params_.size(); ++i)
    ops::copy(stream, nn::flat(copies[i]), nn::flat(params_[i]->value()));
}

void StageWeights::keep_current(const Stream& stream) {
  copy_values_to(stream, current_);
  swapped_ = true;
}

void StageWeights::restore_current(const Stream& stream) {
  if (!swapped_) return;
  copy_values_from(stream, current_);
  swapped_ = false;
}

void StageWeights::put_prediction(const Stream& stream, int64_t updates_ahead) {
  // No prediction before the first update (no gradient exists yet) or when it looks 0 updates ahead.
  if (updates_ahead == 0 || version_ == 0) return;
  keep_current(stream);
  const double momentum = optimizer_.momentum();
  if (predicted_masters_.size() != params_.size()) predicted_masters_.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const nn::Parameter& p = *params_[i];
    if (!p.has_master()) {
      predict_weight(stream, current_[i], *velocities_[i], p.grad(), optimizer_.effective_lr(p), momentum,
                     updates_ahead, p.value());
      continue;
    }
    // Mixed precision: predicted from the f32 master with the f32 gradient and velocity, then rounded into the
    // compute copy the layers read (the master itself does not move).
    const Tensor& master = p.master_value();
    Tensor& predicted = predicted_masters_[i];
    if (!predicted.defined())
      predicted = Tensor::empty(master.shape(), master.dtype(), stream.allocator(), master.memory_format());
    predict_weight(stream, master, *velocities_[i], p.grad(), optimizer_.effective_lr(p), momentum, updates_ahead,
                   predicted);
    ops::copy(stream, predicted, p.value());
  }
}

void StageWeights::begin_forward(const Stream& stream, nn::BufferKey key) {
  forward_version_.at(key) = version_;
  switch (policy_) {
    case WeightPolicy::kNone:
    case WeightPolicy::kSync:
      return;
    case WeightPolicy::kStash:
      copy_values_to(stream, stash_.at(key));
      return;
    case WeightPolicy::kSpecTrain: {
      put_prediction(stream, spectrain_.forward);
      const bool sample = swapped_ && sample_.target_version < 0 && forwards_++ % kSampleEvery == 0;
      if (sample) {
        sample_.target_version = version_ + spectrain_.forward;
        sample_.predicted.clear();
        sample_.unpredicted.clear();
        for (size_t i = 0; i < params_.size(); ++i) {
          sample_.predicted.push_back(host_values(stream, params_[i]->value()));
          sample_.unpredicted.push_back(host_values(stream, current_[i]));
        }
      }
      return;
    }
  }
}

void StageWeights::end_forward(const Stream& stream) {
  restore_current(stream);
}

void StageWeights::begin_backward(const Stream& stream, nn::BufferKey key) {
  switch (policy_) {
    case WeightPolicy::kNone:
    case WeightPolicy::kSync:
      return;
    case WeightPolicy::kStash: {
      if (versions_since_forward(key) == 0) return;  // the stash equals the current weights
      keep_current(stream);
      copy_values_from(stream, stash_.saved(key, "pipeline stage"));
      return;
    }
    case WeightPolicy::kSpecTrain:
      put_prediction(stream, spectrain_.backward);
      return;
  }
}

void StageWeights::end_backward(const Stream& stream) {
  restore_current(stream);
}

int64_t StageWeights::versions_since_forward(nn::BufferKey key) const {
  return version_ - forward_version_.saved(key, "pipeline stage");
}

void StageWeights::check_prediction_sample(const Stream& stream) {
  if (sample_.target_version < 0 || version_ < sample_.target_version) return;
  double predicted_err = 0.0, unpredicted_err = 0.0, target_norm = 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::vector<float> target = host_values(stream, params_[i]->value());
    const std::vector<float>& p = sample_.predicted[i];
    const std::vector<float>& u = sample_.unpredicted[i];
    for (size_t j = 0; j < target.size(); ++j) {
      predicted_err += std::pow(static_cast<double>(p[j]) - target[j], 2);
      unpredicted_err += std::pow(static_cast<double>(u[j]) - target[j], 2);
      target_norm += static_cast<double>(target[j]) * target[j];
    }
  }
  if (target_norm > 0.0) {
    sum_relative_ += std::sqrt(predicted_err / target_norm);
    sum_against_unpredicted_ += unpredicted_err > 0.0 ? std::sqrt(predicted_err / unpredicted_err) : 0.0;
    ++samples_;
  }
  sample_.target_version = -1;
}

StageWeights::PredictionError StageWeights::prediction_error() const {
  if (samples_ == 0) return {};
  const double n = static_cast<double>(samples_);
  return {.relative = sum_relative_ / n,
          .against_unpredicted = sum_against_unpredicted_ / n,
          .samples = samples_};
}

}  // namespace sprint::train
