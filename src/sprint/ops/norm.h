// norm.h (ops): BatchNorm2d front door. Validates shapes, dtypes (per-channel tensors in norm_param_dtype),
// devices, memory formats and aliasing once, then dispatches. x, y, dy, dx (N, C, H, W); per-channel (C).
#pragma once

#include "sprint/backend/api/norm.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// Batch statistics, normalisation and (optional) running-statistics update; y may be x itself.
void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& args);
/// Normalisation with the running statistics; y may be x itself.
void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& args);
/// dx (args.dx_mode), dgamma and dbeta (args.param_mode); any of them may be kNoTensor.
void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& args);

}  // namespace sprint::ops
