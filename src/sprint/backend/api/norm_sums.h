// norm_sums.h (backend interface): BatchNorm2d split around its per-channel sums, for batch statistics shared by
// the replicas of a data-parallel job (synchronised batch norm). Each replica computes its local sums, the sums
// are added over the replicas (a collective between the calls: not part of these ops), and every replica then
// normalises, or computes its input gradient, with the job's totals. With one replica the results equal
// batch_norm_forward_training / batch_norm_backward (norm.h) within rounding.
//
// Sums are f64 vectors of 2·C + 1 values whatever the activation dtype, laid out
//   forward:  [Σ x (C) | Σ x² (C) | M]          backward:  [Σ dy (C) | Σ dy · x̂ (C) | M]
// with M = N·H·W, the values per channel (so that replicas with different batch sizes add up correctly), and
// x̂ = (x − mean) · invstd. Sums are accumulated in double; the variance is Σ x² / M − mean² in double, which loses
// nothing that matters unless |mean| exceeds the standard deviation by about 10⁶. Activations (N, C, H, W) f32,
// f64, f16 or bf16 in any image format; per-channel tensors (C) in norm_param_dtype, contiguous.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// sums = [Σ x | Σ x² | M] over (N, H, W), overwritten.
struct BatchNormSumsArgs {
  const Tensor& x;     ///< (N, C, H, W)
  const Tensor& sums;  ///< f64 (2·C + 1)
};

/// From the job's forward sums: mean = Σ x / M, var = max(Σ x² / M − mean², 0) (biased: it normalises), and
/// when running statistics are given they are updated as batch_norm_forward_training does (momentum, unbiased
/// variance var · M / (M − 1)). M >= 2 (checked where the sums are read: a device-side M is not checked).
struct BatchNormStatisticsArgs {
  const Tensor& sums;          ///< f64 (2·C + 1): the forward sums added over the replicas
  const Tensor& mean;          ///< (C) written
  const Tensor& var;           ///< (C) written
  const Tensor& running_mean;  ///< (C) updated in place, or undefined (no tracking)
  const Tensor& running_var;   ///< (C) updated in place; defined iff running_mean is
  double momentum = 0.1;
};

/// sums = [Σ dy | Σ dy · x̂ | M] (overwritten), and this replica's parameter gradients from them:
/// dβ (=|+=) Σ dy, dγ (=|+=) Σ dy · x̂ (the job's are their mean over the replicas, as for any parameter).
struct BatchNormBackwardSumsArgs {
  const Tensor& dy;           ///< (N, C, H, W), same format as x
  const Tensor& x;            ///< (N, C, H, W): the forward input
  const Tensor& save_mean;    ///< (C) the job's mean
  const Tensor& save_invstd;  ///< (C) the job's 1 / sqrt(var + eps)
  const Tensor& sums;         ///< f64 (2·C + 1)
  const Tensor& dgamma;       ///< (C) or undefined
  const Tensor& dbeta;        ///< (C) or undefined
  GradMode param_mode = GradMode::kOverwrite;
};

/// dx (=|+=) γ · invstd · (dy − Σ dy / M − x̂ · Σ dy·x̂ / M) with the job's backward sums.
struct BatchNormInputGradArgs {
  const Tensor& dy;           ///< (N, C, H, W), same format as x
  const Tensor& x;            ///< (N, C, H, W)
  const Tensor& gamma;        ///< (C) or undefined (scale 1)
  const Tensor& save_mean;    ///< (C)
  const Tensor& save_invstd;  ///< (C)
  const Tensor& sums;         ///< f64 (2·C + 1): the backward sums added over the replicas
  const Tensor& dx;           ///< (N, C, H, W); must not alias x or dy
  GradMode dx_mode = GradMode::kOverwrite;
};

namespace cpu {
/// Fast path: the reference's loops threaded over channels (f32); the reference itself otherwise.
void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& args);
void batch_norm_statistics(const Stream& stream, const BatchNormStatisticsArgs& args);
void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& args);
void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& args);
namespace ref {
void batch_norm_sums(const BatchNormSumsArgs& args);
void batch_norm_statistics(const BatchNormStatisticsArgs& args);
void batch_norm_backward_sums(const BatchNormBackwardSumsArgs& args);
void batch_norm_input_grad(const BatchNormInputGradArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& args);
void batch_norm_statistics(const Stream& stream, const BatchNormStatisticsArgs& args);
void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& args);
void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& args);
}  // namespace cuda

}  // namespace sprint
