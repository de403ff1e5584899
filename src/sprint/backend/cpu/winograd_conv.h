// winograd_conv.h: Winograd F(4x4, 3x3) convolutions on the CPU (AVX2 + FMA, f32) for 3x3 kernels with stride
// 1, padding 1, dilation 1 and no groups, on channel-blocked (nChw8c) activations; weights contiguous KCRS or
// blocked. Forward (with the bias + activation epilogue), backward-data (the same kernel on dy with the
// weights rotated by 180° and C, K swapped) and backward-weight (F(3x3, 4x4): 6x6 input tiles against 4x4
// output-gradient tiles). 36 multiplies per 16 outputs instead of 144: 4x fewer than a direct convolution,
// for transforms that are linear in the data. conv.cpp decides where it runs (use_winograd).
#pragma once

#include "sprint/backend/api/conv.h"

namespace sprint::cpu {

enum class WinogradMode {
  kAuto,  ///< the measured rule of winograd_profitable (default)
  kOff,   ///< never (oneDNN's direct convolutions)
  kOn,    ///< wherever winograd_supported holds
};

/// The process-wide mode: set_winograd_mode's, else SPRINT_WINOGRAD from the environment (0 / off, 1 / on,
/// auto), else kAuto.
WinogradMode winograd_mode();
void set_winograd_mode(WinogradMode mode);

/// The kernels can run this call: f32 AVX2 + FMA CPU, a 3x3 kernel, stride 1, padding 1, dilation 1, groups
/// 1, `in` (x or dy) and `out` (y or dx) channel-blocked by 8, w 4-D contiguous or blocked weights.
bool winograd_supported(const Tensor& in, const Tensor& w, const Tensor& out, const Conv2dParams& params);

/// y = act(conv(x, w) + b).
void winograd_conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args);
/// dx (=|+=) conv_transpose(dy, w).
void winograd_conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
/// dw (=|+=) Σ dy ⊗ x-patches; db (=|+=) Σ dy when given. Needs dw.
void winograd_conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);

}  // namespace sprint::cpu
