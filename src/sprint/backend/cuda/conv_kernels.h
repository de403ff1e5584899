// conv_kernels.h (CUDA backend): the small kernels around the cuDNN convolutions of cudnn_conv.cpp: weight
// reorders between sprint's KCRS and the KRSC (NHWC filter) layout cuDNN wants next to NHWC activations, and
// the bias + ReLU epilogue of the forward. Implemented in conv_kernels.cu.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "sprint/backend/cuda/image.h"
#include "sprint/core/dtype.h"

namespace sprint::cuda {

/// dst (K, R, S, Cg) <- src (K, Cg, R, S), both dense; dtype f32 / f16 / bf16.
void launch_kcrs_to_krsc(cudaStream_t stream, DType dtype, const void* src, void* dst, int64_t k, int64_t cg,
                         int64_t r, int64_t s);

/// dst (K, Cg, R, S) (=|+=) src, where src is (K, R, S, Cg) when `src_krsc` and (K, Cg, R, S) otherwise; dst is
/// src's dtype, or f32 beside an f16/bf16 src (mixed precision's f32 weight gradients). Accumulation adds in float
/// and rounds once, like the CPU's `dw = dw + value`.
void launch_filter_gradient_to_kcrs(cudaStream_t stream, DType src_dtype, const void* src, DType dst_dtype, void* dst,
                                    int64_t k, int64_t cg, int64_t r, int64_t s, bool src_krsc, bool accumulate);

/// y = act(y + b[k]) in place over a dense (N, K, P, Q) tensor in `layout`; `b` (K) may be null (activation
/// only). ReLU maps x < 0 to 0 and keeps NaN (like the CPU's std::max(acc, 0.0)).
void launch_bias_activation_4d(cudaStream_t stream, DType dtype, ImageLayout layout, void* y, const void* b,
                               int64_t n, int64_t k, int64_t pq, bool relu);

}  // namespace sprint::cuda
