// conv.h (ops): Conv2d front door. Validates shapes, devices, dtypes, memory formats and aliasing once, then
// dispatches to the backend of the stream's device. Shapes: x (N, C, H, W), w (K, C/G, R, S), b (K),
// y (N, K, P, Q); activations NCHW or NHWC (one format per call), weights always contiguous KCRS.
#pragma once

#include "sprint/backend/api/conv.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// (N, K, P, Q) for an input shape (N, C, H, W) and weight shape (K, C/G, R, S); throws InvalidArgument when the
/// geometry is invalid or the kernel does not fit.
Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& params);

/// True when the stream's device convolves `dtype` operands with kernels of that dtype: f32 everywhere; f16 and
/// bf16 on CUDA; bf16 on a CPU with AMX-BF16. Otherwise the CPU widens half operands to f32 around its f32 kernels.
bool has_native_convolutions(const Stream& stream, DType dtype);
/// The layout convolutional models run their activations in on a stream's device for `dtype`: on the CPU
/// (f32, fast path) oneDNN's channel-blocked layout for the ISA it dispatches to (8 channels on AVX2, 16 on
/// AVX-512); on CUDA channels-last (what cuDNN's tensor cores read); NCHW for the CPU reference loops.
MemoryFormat preferred_activation_format(const Stream& stream, DType dtype);
/// The layout a convolution's weights should be kept in between steps for input x: the CPU kernels' blocked
/// weights (oneDNN's OIhw8i8o / OIhw16i16o) when x is channel-blocked and the convolution has no groups, so that
/// the forward pass and the weight gradient use them as they are and the optimizer updates them in place;
/// contiguous KCRS otherwise (and always on CUDA).
MemoryFormat preferred_weight_format(const Stream& stream, const Tensor& x, int64_t groups);

/// y = act(conv(x, w) + b); b may be kNoTensor; y overwritten, same format as x, not aliasing x or w.
void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args);
/// dx (args.mode) from dy and w.
void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
/// dw and/or db (args.mode) from dy and x; either may be kNoTensor (not both).
void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);

}  // namespace sprint::ops
