// optimizer.h (backend interface): fused parameter updates over many tensors at once (one launch on CUDA).
// Each list holds one entry per parameter tensor; entry i of every list has the same shape and device.
// Dtypes: parameter, gradient and state all alike (f32, f16 or bf16; math in f32 at least), or mixed precision: an
// f32 parameter (the master) and f32 state with an f32 gradient (what layers write beside half operands) or an
// f16/bf16 one, and then compute_copies[i], f16 or bf16 (the gradient's dtype when that is half), receives the
// updated master rounded to it in the same pass. CPU and CUDA follow these rules.
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

/// Which entries of a parameter an update may change (sparse training on a fixed mask): entries whose mask is
/// not 0 are trained.
enum class UpdateMaskMode : uint8_t {
  kFreeze,        ///< the others are untouched: value, momentum and moments stay bit for bit (state made now is 0)
  kGradientOnly,  ///< only the gradient is masked (g·mask): weight decay and momentum still move the others
};

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
  /// Empty span, or one per parameter: undefined, or the half-precision copy written from the f32 parameter.
  std::span<const Tensor> compute_copies = {};
  SgdHyper hyper;
  bool first_step = false;  ///< initialise momentum buffers from the gradient
  /// Empty span, or one per parameter: undefined (every entry trained) or the parameter's shape, dtype, layout and
  /// device holding 1 for the entries to train and 0 elsewhere, applied as mask_mode says.
  std::span<const Tensor> masks = {};
  UpdateMaskMode mask_mode = UpdateMaskMode::kFreeze;
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
  /// Empty span, or one per parameter: undefined, or the half-precision copy written from the f32 parameter.
  std::span<const Tensor> compute_copies = {};
  AdamHyper hyper;
  int64_t step = 1;  ///< t, 1-based, for bias correction
  /// As SgdUpdateArgs::masks and mask_mode.
  std::span<const Tensor> masks = {};
  UpdateMaskMode mask_mode = UpdateMaskMode::kFreeze;
  /// Optional f64 (kStepValueCount) on the op's device, read when the update runs: lr = step_values[kLr]·lr_scale,
  /// beta1 = step_values[kMomentum], grad_scale = step_values[kGradScale] and t = step_values[kStep] replace
  /// hyper.lr, hyper.beta1, hyper.grad_scale and step (bias correction 1 − beta1^t with this step's beta1, as
  /// PyTorch's Adam under a momentum-cycling schedule).
  Tensor step_values = {};
};

/// A planned schedule on the device: out = table[cursor[0]], then cursor[0] += 1, queued on the stream. Row t of
/// the table holds optimizer step t + 1's StepValues; a cursor past the last row repeats it (the host checks the
/// plan's length). Captured in a CUDA graph, each replay selects the next step's values: one graph follows any
/// schedule.
struct StepValuesSelectArgs {
  const Tensor& table;   ///< f64 (T, kStepValueCount), contiguous
  const Tensor& cursor;  ///< i64 (1): the row to select next
  const Tensor& out;     ///< f64 (kStepValueCount), contiguous
};

namespace cpu {
void sgd_update(const Stream& stream, const SgdUpdateArgs& args);
void adam_update(const Stream& stream, const AdamUpdateArgs& args);
void step_values_select(const Stream& stream, const StepValuesSelectArgs& args);
}  // namespace cpu

namespace cuda {
void sgd_update(const Stream& stream, const SgdUpdateArgs& args);
void adam_update(const Stream& stream, const AdamUpdateArgs& args);
void step_values_select(const Stream& stream, const StepValuesSelectArgs& args);
}  // namespace cuda

}  // namespace sprint
