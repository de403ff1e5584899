// norm_sums.h (ops): front door of batch norm around its per-channel sums (backend/api/norm_sums.h), what a
// BatchNorm2d synchronised over data-parallel replicas runs with a sum over the replicas between the calls.
// Validates shapes, dtypes (per-channel tensors in norm_param_dtype, sums f64 (2·C + 1)), devices, formats and
// aliasing, then dispatches. x, dy, dx (N, C, H, W); per-channel (C).
#pragma once

#include "sprint/backend/api/norm_sums.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// The forward sums of this replica's batch.
void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& args);
/// Mean and variance from the forward sums (added over the replicas), and the running-statistics update.
void batch_norm_statistics(const Stream& stream, const BatchNormStatisticsArgs& args);
/// The backward sums of this replica's batch, and its dgamma / dbeta (either may be kNoTensor).
void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& args);
/// dx from the backward sums added over the replicas.
void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& args);

/// A f64 tensor of the sums' length (2·C + 1) for `channels` channels, from the stream's allocator.
Tensor batch_norm_sums_buffer(const Stream& stream, int64_t channels);

}  // namespace sprint::ops
