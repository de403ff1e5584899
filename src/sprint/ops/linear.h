// linear.h (ops): fully connected layer front door. Validates shapes, devices, dtypes and aliasing once, then
// dispatches to the backend of the stream's device. Shapes: x (N, I), w (O, I), b (O), y (N, O).
#pragma once

#include "sprint/backend/api/linear.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// y = act(x · wᵀ + b); b may be kNoTensor. y is overwritten and must not alias x or w.
void linear_forward(const Stream& stream, const LinearForwardArgs& args);
/// Gradients of linear_forward: dx (args.dx_mode), dw and db (args.param_mode); any of them may be kNoTensor.
void linear_backward(const Stream& stream, const LinearBackwardArgs& args);

}  // namespace sprint::ops
