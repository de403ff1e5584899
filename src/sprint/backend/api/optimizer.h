// optimizer.h (backend interface): fused parameter updates over many tensors at once (one launch on CUDA).
// Each list holds one entry per parameter tensor; entry i of every list has the same shape and device.
#pragma once

#include <span>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// The values of an optimizer step that schedules and the loss scaler change from step to step. The update
/// kernels read them when they run (through a pointer on CUDA) instead of having them baked into their launch, so
/// that one captured CUDA graph can replay a changing schedule once the tensor is updated on the device. Held in a
/// contiguous f64 tensor of kStepValueCount entries on the op's device, indexed by StepValue.
enum class StepValue : int {
  kLr = 0,         ///< learning rate, before each tensor list's hyper.lr_scale
  kMomentum = 1,   ///< SGD momentum (when the update keeps momentum buffers); Adam's beta1
  kGradScale = 2,  ///< gradients are multiplied by this first (1 / loss scale, 1 / accumulation steps)
  kStep = 3,       ///< Adam's step count t (1-based) for its bias corrections
};
inline constexpr int64_t kStepValueCount = 4;

/// PyTorch's SGD: g' = g + wd·p; buf = momentum·buf + (1 − dampening)·g' (buf = g' on the first step);
/// step = nesterov ? g' + momentum·buf : buf (g' when momentum == 0); p -= lr·step.
struct SgdHyper {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  double grad_scale = 1.0;  ///< gradients are multiplied by this first (1 / loss scale, 1 / accumulation steps)
  double lr_scale = 1.0;    ///< multiplies the learning rate (a parameter group's lr multiplier)
};
struct SgdUpdateArgs {
  std::span<const Tensor> params;            ///< updated in place
  std::span<const Tensor> grads;
  std::span<const Tensor> momentum_buffers;  ///< empty span when momentum == 0
  SgdHyper hyper;
  bool first_step = false;  ///< initialise momentum buffers from the gradient
  /// Optional f64 (kStepValueCount) on the op's device, read when the update runs: then lr =
  /// step_values[kLr]·lr_scale, momentum = step_values[kMomentum] and grad_scale = step_values[kGradScale] replace
  /// hyper.lr, hyper.momentum and hyper.grad_scale (hyper.momentum != 0 still says that buffers are kept).
  Tensor step_values = {};
};

/// Adam / AdamW (decoupled_weight_decay): m = b1·m + (1 − b1)·g; v = b2·v + (1 − b2)·g²;
/// p -= lr·(m / (1 − b1^t)) / (sqrt(v / (1 − b2^t)) + eps); weight decay as L2 (Adam) or p -= lr·wd·p (AdamW).
struct AdamHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;
  double grad_scale = 1.0;
  double lr_scale = 1.0;  ///< multiplies the learning rate
};
struct AdamUpdateArgs {
  std::span<const Tensor> params;
  std::span<const Tensor> grads;
  std::span<const Tensor> exp_avg;     ///< m
  std::span<const Tensor> exp_avg_sq;  ///< v
  AdamHyper hyper;
  int64_t step = 1;  ///< t, 1-based, for bias correction
  /// Optional f64 (kStepValueCount) on the op's device, read when the update runs: lr = step_values[kLr]·lr_scale,
  /// beta1 = step_values[kMomentum], grad_scale = step_values[kGradScale] and t = step_values[kStep] replace
  /// hyper.lr, hyper.beta1, hyper.grad_scale and step (bias correction 1 − beta1^t with this step's beta1, as
  /// PyTorch's Adam under a momentum-cycling schedule).
  Tensor step_values = {};
};

namespace cpu {
void sgd_update(const Stream& stream, const SgdUpdateArgs& args);
void adam_update(const Stream& stream, const AdamUpdateArgs& args);
}  // namespace cpu

namespace cuda {
void sgd_update(const Stream& stream, const SgdUpdateArgs& args);
void adam_update(const Stream& stream, const AdamUpdateArgs& args);
}  // namespace cuda

}  // namespace sprint
