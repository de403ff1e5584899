// loss_scale.h (backend interface): dynamic loss scaling with PyTorch GradScaler's semantics, its state on
// the device so that no value is baked into a kernel launch. The state is a contiguous f32
// (kLossScaleStateCount) tensor indexed by LossScaleSlot: the scale, the count of clean steps since the last
// change, and a flag that the unscale pass sets when a gradient holds an inf or NaN (cleared again by the
// update).
#pragma once

#include <span>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

enum class LossScaleSlot : int {
  kScale = 0,          ///< the loss (and so every gradient) is multiplied by this
  kGrowthTracker = 1,  ///< clean steps since the scale last changed
  kFoundInf = 2,       ///< 1 when this step's gradients held an inf or NaN, else 0
};
inline constexpr int64_t kLossScaleStateCount = 3;

/// x *= state[kScale]: the gradient that enters the backward pass (the loss's gradient), scaled.
struct LossScaleApplyArgs {
  const Tensor& x;      ///< any shape, contiguous, f32 / f16 / bf16 (CPU: f32 / f64)
  const Tensor& state;  ///< f32 (kLossScaleStateCount)
};

/// Every gradient g *= 1 / state[kScale]; state[kFoundInf] = 1 if any g holds an inf or NaN (else unchanged).
/// PyTorch's _amp_foreach_non_finite_check_and_unscale_.
struct LossScaleUnscaleArgs {
  std::span<const Tensor> grads;  ///< each updated in place over its storage (blocked weights included)
  const Tensor& state;
};

/// PyTorch's _amp_update_scale_: after an inf/NaN step, scale *= backoff_factor and the tracker restarts;
/// after growth_interval clean steps in a row, scale *= growth_factor (unless that overflows f32) and the
/// tracker restarts; else the tracker counts the step. Clears kFoundInf.
struct LossScaleUpdateArgs {
  const Tensor& state;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

namespace cpu {
void loss_scale_apply(const Stream& stream, const LossScaleApplyArgs& args);
void loss_scale_unscale(const Stream& stream, const LossScaleUnscaleArgs& args);
void loss_scale_update(const Stream& stream, const LossScaleUpdateArgs& args);
}  // namespace cpu

namespace cuda {
void loss_scale_apply(const Stream& stream, const LossScaleApplyArgs& args);
void loss_scale_unscale(const Stream& stream, const LossScaleUnscaleArgs& args);
void loss_scale_update(const Stream& stream, const LossScaleUpdateArgs& args);
}  // namespace cuda

}  // namespace sprint
