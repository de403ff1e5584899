// pool.h (ops): pooling front door: max / average pooling over square windows and global average / max
// pooling. Validates shapes, dtypes, devices, memory formats and aliasing once, then dispatches.
#pragma once

#include "sprint/backend/api/pool.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// (N, C, P, Q) for an input (N, C, H, W); throws InvalidArgument for an invalid window or one that does not fit.
Shape pool2d_output_shape(const Shape& x, const Pool2dParams& params);

/// y (and indices, i32, when given) from x; y has x's memory format.
void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& args);
void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& args);
void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& args);
void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& args);
/// x (N, C, H, W) -> y (N, C).
void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);
/// x (N, C, H, W) -> y (N, C) and indices (N, C) i32 when given (needed by backward).
void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);

}  // namespace sprint::ops
