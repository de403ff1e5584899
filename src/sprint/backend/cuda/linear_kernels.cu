// linear_kernels.cu (CUDA): bias gradient (column sums) and the bias + ReLU epilogue used when cuBLASLt has
// no fused epilogue for a problem. Kernels, then launchers.
#include "sprint/backend/cuda/linear_kernels.h"

#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

constexpr int kColTile =
    32;  // columns per block (threadIdx.x): a warp reads 32 consecutive elements of a row
constexpr int kRowLanes = 16;  // row phases per block (threadIdx.y)

// out[c] (=|+=) sum_r x[r, c]. Block (kColTile, kRowLanes): thread (tx, ty) sums rows ty, ty + kRowLanes, ...
// of column blockIdx.x * kColTile + tx; the kRowLanes partials are then added in a fixed order.
template <class T, class O>
__global__ void __launch_bounds__(kColTile* kRowLanes)
    column_sum_kernel(const T* __restrict__ x, O* __restrict__ out, int64_t rows, int64_t cols,
                      bool accumulate) {
  __shared__ float partial[kRowLanes][kColTile + 1];
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kColTile + threadIdx.x;
  float acc = 0.0f;
  if (col < cols)
    for (int64_t r = threadIdx.y; r < rows; r += kRowLanes) acc += to_float(x[r * cols + col]);
  partial[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < kRowLanes; ++i) s += partial[i][threadIdx.x];
    out[col] = from_float<O>(accumulate ? to_float(out[col]) + s : s);
  }
}

template <class T>
__global__ void bias_activation_kernel(T* __restrict__ y, const T* __restrict__ bias, int64_t rows,
                                       int64_t cols, bool relu) {
  SPRINT_GRID_STRIDE_LOOP(i, rows * cols) {
    float v = to_float(y[i]);
    if (bias) v += to_float(bias[i % cols]);
    if (relu && v < 0.0f) v = 0.0f;  // NaN stays NaN, as on the CPU (std::max(acc, 0))
    y[i] = from_float<T>(v);
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

void launch_column_sum(cudaStream_t stream, DType x_dtype, const void* x, DType out_dtype, void* out, int64_t rows,
                       int64_t cols, bool accumulate) {
  SPRINT_CHECK(rows >= 0 && cols >= 0, "column_sum: bad shape ({}, {})", rows, cols);
  SPRINT_CHECK(out_dtype == x_dtype || out_dtype == DType::kF32, "column_sum: {} sums into {} or f32, not {}",
               dtype_name(x_dtype), dtype_name(x_dtype), dtype_name(out_dtype));
  if (cols == 0) return;
  const int64_t blocks = (cols + kColTile - 1) / kColTile;
  SPRINT_CHECK(blocks <= 0x7fffffff, "column_sum: {} columns is too many", cols);
  dispatch_floating(x_dtype, "column_sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const dim3 grid(static_cast<unsigned>(blocks)), block(kColTile, kRowLanes);
    if (out_dtype == DType::kF32)
      column_sum_kernel<T, float><<<grid, block, 0, stream>>>(static_cast<const T*>(x), static_cast<float*>(out),
                                                              rows, cols, accumulate);
    else
      column_sum_kernel<T, T><<<grid, block, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(out), rows,
                                                          cols, accumulate);
    SPRINT_CUDA_CHECK_LAUNCH("column_sum_kernel");
  });
}

void launch_bias_activation(cudaStream_t stream, DType dtype, void* y, const void* bias, int64_t rows,
                            int64_t cols, bool relu) {
  SPRINT_CHECK(rows >= 0 && cols >= 0, "bias_activation: bad shape ({}, {})", rows, cols);
  if (rows == 0 || cols == 0 || (bias == nullptr && !relu)) return;
  dispatch_floating(dtype, "bias_activation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    bias_activation_kernel<T><<<blocks_for(rows * cols), kThreads, 0, stream>>>(
        static_cast<T*>(y), static_cast<const T*>(bias), rows, cols, relu);
    SPRINT_CUDA_CHECK_LAUNCH("bias_activation_kernel");
  });
}

}  // namespace sprint::cuda
