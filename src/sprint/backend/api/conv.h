// conv.h (backend interface): 2-D convolution (cross-correlation, as PyTorch's Conv2d) forward, backward-data and
// backward-weight. Shapes: x (N, C, H, W), w (K, C/G, R, S), b (K), y (N, K, P, Q) with G = groups and
// P = (H + 2·padding − dilation·(R − 1) − 1) / stride + 1 (Q likewise from W, S). Shared by cpu:: and cuda::.
// Memory formats: x, y, dx and dy are all NCHW (contiguous) or all NHWC (channels-last), or on the CPU any mix of
// those and channel-blocked (x and dx share one, y and dy another); w, dw, b, db are always
// contiguous KCRS, so parameters, optimizers and checkpoints never see a layout. Backends reorder internally.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// Square geometry: the same stride, symmetric padding and dilation along H and W.
struct Conv2dParams {
  int64_t stride = 1;
  int64_t padding = 0;   ///< zero padding on each side (top = bottom, left = right)
  int64_t dilation = 1;  ///< 1 = dense kernel
  int64_t groups = 1;    ///< C and K are both multiples of groups; w is (K, C/groups, R, S)
};

/// Output extent along one spatial axis; 0 when the (dilated) kernel does not fit the padded input.
inline int64_t conv2d_output_size(int64_t in, int64_t kernel, const Conv2dParams& p) {
  const int64_t last_start = in + 2 * p.padding - p.dilation * (kernel - 1) - 1;
  return last_start < 0 ? 0 : last_start / p.stride + 1;
}

struct Conv2dForwardArgs {
  const Tensor& x;  ///< (N, C, H, W), NCHW or NHWC
  const Tensor& w;  ///< (K, C/G, R, S), contiguous
  const Tensor& b;  ///< (K) or undefined (no bias)
  const Tensor& y;  ///< (N, K, P, Q), same memory format as x; overwritten; must not alias x or w
  Conv2dParams params;
  /// Fused epilogue: y = act(conv(x, w) + b). Backward ops take the gradient w.r.t. the pre-activation, so a
  /// caller that fuses ReLU first masks dy with relu_backward(dy, y).
  Activation activation = Activation::kNone;
};

/// dx (=|+=) conv_transpose(dy, w): the gradient w.r.t. the input.
struct Conv2dBackwardDataArgs {
  const Tensor& dy;  ///< (N, K, P, Q), same memory format as dx
  const Tensor& w;   ///< (K, C/G, R, S), contiguous
  const Tensor& dx;  ///< (N, C, H, W); must not alias dy or w
  Conv2dParams params;
  GradMode mode = GradMode::kOverwrite;
};

/// dw (=|+=) Σ_n,p,q dy ⊗ x-patches and db (=|+=) Σ_n,p,q dy: the gradients w.r.t. weight and bias.
struct Conv2dBackwardWeightArgs {
  const Tensor& dy;  ///< (N, K, P, Q), same memory format as x
  const Tensor& x;   ///< (N, C, H, W): the forward input
  const Tensor& dw;  ///< (K, C/G, R, S) contiguous, or undefined (frozen weight); x's dtype, or f32 for f16/bf16 x
  const Tensor& db;  ///< (K) or undefined (no bias or frozen bias); dtype as dw
  Conv2dParams params;
  GradMode mode = GradMode::kOverwrite;  ///< for dw and db
};

namespace cpu {
/// Channel-blocked with oneDNN's block for the running ISA (the f32 fast path, and f16/bf16, which run it on
/// widened copies); channels-last for bf16 on CPUs with AMX-BF16 (oneDNN's AMX kernels); NCHW for the
/// reference loops.
MemoryFormat preferred_activation_format(const Stream& stream, DType dtype);
/// True when bf16 convolutions run oneDNN's AMX-BF16 kernels (not reference mode, and the CPU has AMX-BF16).
bool has_native_bf16_convolutions(const Stream& stream);
/// Blocked weights with the input's channel block for a channel-blocked input without groups (f32, f16, bf16
/// fast path), else contiguous KCRS.
MemoryFormat preferred_weight_format(const Stream& stream, DType dtype, MemoryFormat input_format, int64_t groups);
/// Fast path: oneDNN or Winograd (f32; bf16 channels-last or NCHW operands on oneDNN's bf16 kernels where the
/// CPU has AMX-BF16; other f16/bf16 operands on widened copies); reference loops for f64 or when the context is
/// in reference mode.
void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args);
void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);
namespace ref {
void conv2d_forward(const Conv2dForwardArgs& args);
void conv2d_backward_data(const Conv2dBackwardDataArgs& args);
void conv2d_backward_weight(const Conv2dBackwardWeightArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args);
void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);
}  // namespace cuda

}  // namespace sprint
