// norm.h (backend interface): BatchNorm2d forward (training: batch statistics; inference: running statistics)
// and backward. Shapes: x, y, dy, dx (N, C, H, W), all NCHW or all NHWC; per-channel tensors (C), contiguous.
// Per-channel tensors (gamma, beta, running and saved statistics, dgamma, dbeta) are f32 whatever the activation
// dtype (f32/f16/bf16), except with f64 activations where they are f64 (gradient checks): see norm_param_dtype.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// dtype of the per-channel tensors for activations of `x_dtype`: f64 for f64, otherwise f32.
inline DType norm_param_dtype(DType x_dtype) { return x_dtype == DType::kF64 ? DType::kF64 : DType::kF32; }

/// y = (x − μ_B) · invstd_B · γ + β with μ_B, σ²_B over (N, H, W) and invstd_B = 1 / sqrt(σ²_B + eps) (biased
/// variance). When running statistics are given they are updated as PyTorch does:
///   running_mean = (1 − momentum) · running_mean + momentum · μ_B
///   running_var  = (1 − momentum) · running_var  + momentum · σ²_B · M / (M − 1),  M = N·H·W (unbiased).
struct BatchNormTrainingArgs {
  const Tensor& x;             ///< (N, C, H, W); N·H·W >= 2
  const Tensor& gamma;         ///< (C) or undefined: scale fixed at 1
  const Tensor& beta;          ///< (C) or undefined: shift fixed at 0
  const Tensor& y;             ///< (N, C, H, W), same format as x; overwritten; may alias x
  const Tensor& running_mean;  ///< (C) updated in place, or undefined (no tracking)
  const Tensor& running_var;   ///< (C) updated in place; defined iff running_mean is
  const Tensor& save_mean;     ///< (C) written: μ_B, for backward
  const Tensor& save_invstd;   ///< (C) written: invstd_B, for backward
  double eps = 1e-5;
  double momentum = 0.1;  ///< PyTorch convention: weight of the new batch statistic
};

/// y = (x − running_mean) / sqrt(running_var + eps) · γ + β. When save_mean / save_invstd are given they receive
/// running_mean and 1 / sqrt(running_var + eps), so that a backward with use_batch_stats = false can follow.
struct BatchNormInferenceArgs {
  const Tensor& x;             ///< (N, C, H, W)
  const Tensor& gamma;         ///< (C) or undefined
  const Tensor& beta;          ///< (C) or undefined
  const Tensor& y;             ///< (N, C, H, W), same format as x; may alias x
  const Tensor& running_mean;  ///< (C)
  const Tensor& running_var;   ///< (C)
  const Tensor& save_mean;     ///< (C) or undefined
  const Tensor& save_invstd;   ///< (C) or undefined
  double eps = 1e-5;
};

/// Gradients of either forward, from the statistics it saved. With x̂ = (x − mean) · invstd, M = N·H·W:
///   dβ = Σ dy,  dγ = Σ dy · x̂,
///   dx = γ · invstd · (dy − dβ / M − x̂ · dγ / M)    (use_batch_stats: mean and invstd depend on x)
///   dx = γ · invstd · dy                              (otherwise: statistics are constants)
struct BatchNormBackwardArgs {
  const Tensor& dy;           ///< (N, C, H, W), same format as x
  const Tensor& x;            ///< (N, C, H, W): the forward input
  const Tensor& gamma;        ///< (C) or undefined (scale 1)
  const Tensor& save_mean;    ///< (C) from forward
  const Tensor& save_invstd;  ///< (C) from forward
  const Tensor& dx;           ///< (N, C, H, W) or undefined; must not alias x or dy
  const Tensor& dgamma;       ///< (C) or undefined (frozen or absent scale)
  const Tensor& dbeta;        ///< (C) or undefined (frozen or absent shift)
  bool use_batch_stats = true;  ///< true after forward training, false after forward inference
  GradMode dx_mode = GradMode::kOverwrite;
  GradMode param_mode = GradMode::kOverwrite;  ///< for dgamma and dbeta
};

namespace cpu {
/// Fast path: oneDNN (f32, overwrite modes); reference loops otherwise.
void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& args);
void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& args);
void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& args);
namespace ref {
void batch_norm_forward_training(const BatchNormTrainingArgs& args);
void batch_norm_forward_inference(const BatchNormInferenceArgs& args);
void batch_norm_backward(const BatchNormBackwardArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& args);
void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& args);
void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& args);
}  // namespace cuda

}  // namespace sprint
