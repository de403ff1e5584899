// linear_kernels.h (CUDA backend): the small kernels around the cuBLASLt GEMMs of the linear layer, as
// launchers callable from host code (linear.cpp). Matrices are row-major and contiguous; dtype f32, f16 or
// bf16.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "sprint/core/dtype.h"

namespace sprint::cuda {

/// out (cols) (=|+=) sum over rows of x (rows, cols), float accumulation in a fixed order (deterministic).
/// rows may be 0 (out = 0 when overwriting). out is x's dtype, or f32 for f16/bf16 x (mixed precision).
void launch_column_sum(cudaStream_t stream, DType x_dtype, const void* x, DType out_dtype, void* out, int64_t rows,
                       int64_t cols, bool accumulate);

/// y (rows, cols) = act(y + bias) in place; bias (cols) may be null; act is ReLU when `relu`.
void launch_bias_activation(cudaStream_t stream, DType dtype, void* y, const void* bias, int64_t rows,
                            int64_t cols, bool relu);

}  // namespace sprint::cuda
