// loss_scaler.cpp: LossScaler on the ops of ops/loss_scale.h.
#include "sprint/optim/loss_scaler.h"

#include <cmath>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/loss_scale.h"

namespace sprint::optim {
namespace {
float read_slot(const Stream& stream, const Tensor& state, LossScaleSlot slot) {
  const Tensor host = state.device().is_cpu() ? state : ops::to_host(stream, state);
  return host.data_as<float>()[static_cast<int>(slot)];
}
}  // namespace

LossScaler::LossScaler(const Stream& stream, const LossScalerOptions& o) : options_(o) {
  SPRINT_CHECK(std::isfinite(o.init_scale) && o.init_scale > 0.0 && o.init_scale <= 3.0e38,
               "the initial loss scale must be a positive f32 number, got {}", o.init_scale);
  SPRINT_CHECK(
      o.growth_factor > 1.0 && o.backoff_factor > 0.0 && o.backoff_factor < 1.0 && o.growth_interval >= 1,
      "loss scaling needs growth factor > 1, backoff factor in (0, 1) and growth interval >= 1; got {}, {}, "
      "{}",
      o.growth_factor, o.backoff_factor, o.growth_interval);
  const Tensor host = Tensor::from_values(std::vector<float>{static_cast<float>(o.init_scale), 0.0f, 0.0f},
                                          {kLossScaleStateCount});
  state_ = ops::to_stream_device(stream, host);
}

void LossScaler::scale_gradient(const Stream& stream, const Tensor& grad) const {
  ops::loss_scale_apply(stream, {.x = grad, .state = state_});
}

bool LossScaler::unscale_and_update(const Stream& stream, std::span<const Tensor> grads) {
  ops::loss_scale_unscale(stream, {.grads = grads, .state = state_});
  const bool found_inf = read_slot(stream, state_, LossScaleSlot::kFoundInf) != 0.0f;
  ops::loss_scale_update(stream, {.state = state_,
                                  .growth_factor = options_.growth_factor,
                                  .backoff_factor = options_.backoff_factor,
                                  .growth_interval = options_.growth_interval});
  if (found_inf) ++skipped_;
  return found_inf;
}

double LossScaler::scale(const Stream& stream) const {
  return read_slot(stream, state_, LossScaleSlot::kScale);
}

Tensor LossScaler::state(const Stream& stream) const {
  return ops::to_host(stream, state_);
}

void LossScaler::load_state(const Stream& stream, const Tensor& state, int64_t skipped_steps) {
  SPRINT_CHECK(state.dtype() == DType::kF32 && state.shape() == Shape{kLossScaleStateCount},
               "loss-scale state must be f32 ({}), got {}", kLossScaleStateCount, state.description());
  const float scale = state.data_as<float>()[static_cast<int>(LossScaleSlot::kScale)];
  SPRINT_CHECK(std::isfinite(scale) && scale > 0.0f, "loss-scale state holds the scale {}", scale);
  SPRINT_CHECK(skipped_steps >= 0, "skipped steps must be >= 0, got {}", skipped_steps);
  ops::copy(stream, ops::to_stream_device(stream, state), state_);
  skipped_ = skipped_steps;
}

}  // namespace sprint::optim
