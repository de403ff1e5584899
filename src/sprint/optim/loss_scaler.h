// loss_scaler.h: LossScaler, dynamic loss scaling with PyTorch torch.cuda.amp.GradScaler's semantics for
// half-precision training: the loss's gradient is multiplied by the scale before the backward pass; before
// the optimizer step the gradients are divided by it and checked; a step whose gradients hold an inf or NaN
// is skipped and the scale halves; after growth_interval clean steps in a row it doubles. The scale, the
// clean-step count and the inf flag live in a small device tensor (backend/api/loss_scale.h) that the kernels
// read when they run.
#pragma once

#include <cstdint>
#include <span>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::optim {

struct LossScalerOptions {
  double init_scale = 65536.0;  ///< GradScaler's defaults
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class LossScaler {
 public:
  /// InvalidArgument for a scale <= 0 or not finite, growth <= 1, backoff outside (0, 1) or interval < 1.
  LossScaler(const Stream& stream, const LossScalerOptions& options);

  /// grad *= scale, in place: the gradient of the loss, before the backward pass.
  void scale_gradient(const Stream& stream, const Tensor& grad) const;
  /// Divides every gradient by the scale and updates the scale (growth or backoff); returns true when the
  /// gradients held an inf or NaN, and the optimizer step must be skipped. Reads one flag on the host (a
  /// synchronisation on CUDA, as GradScaler.step).
  bool unscale_and_update(const Stream& stream, std::span<const Tensor> grads);

  /// The current scale (a host read of the device value).
  double scale(const Stream& stream) const;
  int64_t skipped_steps() const { return skipped_; }
  const LossScalerOptions& options() const { return options_; }

  /// f32 (3) {scale, clean steps, inf flag} on the host, for checkpoints, and back.
  Tensor state(const Stream& stream) const;
  void load_state(const Stream& stream, const Tensor& state, int64_t skipped_steps);

 private:
  LossScalerOptions options_;
  Tensor state_;  // f32 (kLossScaleStateCount) on the stream's device
  int64_t skipped_ = 0;
};

}  // namespace sprint::optim
