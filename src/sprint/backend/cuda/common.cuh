// common.cuh (CUDA backend, device side): dtype traits mapping sprint dtypes to float / __half /
// __nv_bfloat16 (all arithmetic in float), the run-time dtype dispatch for launchers, grid-stride loops and
// warp/block reductions. Included only by .cu files.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "sprint/backend/cuda/common.h"

namespace sprint::cuda {

// ------------------------------------------------------------------------------------------------------------
// Element types
// ------------------------------------------------------------------------------------------------------------

/// Storage type <-> float. Loads widen to float, stores round to nearest even.
template <class T>
struct Elem;
template <>
struct Elem<float> {
  static __device__ __forceinline__ float load(float x) { return x; }
  static __device__ __forceinline__ float store(float x) { return x; }
};
template <>
struct Elem<__half> {
  static __device__ __forceinline__ float load(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half store(float x) { return __float2half_rn(x); }
};
template <>
struct Elem<__nv_bfloat16> {
  static __device__ __forceinline__ float load(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 store(float x) { return __float2bfloat16_rn(x); }
};

template <class T>
__device__ __forceinline__ float to_float(T x) {
  return Elem<T>::load(x);
}
template <class T>
__device__ __forceinline__ T from_float(float x) {
  return Elem<T>::store(x);
}

template <class T>
struct TypeTag {
  using type = T;
};

/// Calls f(TypeTag<T>{}) with T = float, __half or __nv_bfloat16 for f32, f16, bf16; throws Unsupported
/// otherwise. Usage: dispatch_floating(dtype, "relu", [&](auto tag) { using T = typename decltype(tag)::type;
/// });
template <class F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::kF32: f(TypeTag<float>{}); return;
    case DType::kF16: f(TypeTag<__half>{}); return;
    case DType::kBF16: f(TypeTag<__nv_bfloat16>{}); return;
    default: check_cuda_floating(dtype, op);
  }
}

/// Typed device pointer of a tensor of one of the three floating dtypes (the caller dispatched on the dtype).
template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.data());
}

// ------------------------------------------------------------------------------------------------------------
// Indexing
// ------------------------------------------------------------------------------------------------------------

/// for (int64_t i = global thread index; i < n; i += total threads) — 64-bit throughout.
#define SPRINT_GRID_STRIDE_LOOP(i, n)                                                    \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// ------------------------------------------------------------------------------------------------------------
// Reductions (all 32 lanes of the warp must call them)
// ------------------------------------------------------------------------------------------------------------

inline constexpr unsigned kFullMask = 0xffffffffu;

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

/// Sum over the block of one value per thread; the result is valid in thread 0. Every thread of the block
/// must call it (no early returns before it); blockDim.x must be a multiple of 32 and <= 1024. The summation
/// order is fixed, so results are deterministic.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T warp_totals[32];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // a previous block_sum in the same kernel may still be reading warp_totals
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  T total = T(0);
  if (warp == 0) {
    const int n_warps = static_cast<int>(blockDim.x >> 5);
    total = lane < n_warps ? warp_totals[lane] : T(0);
    total = warp_sum(total);
  }
  return total;
}

}  // namespace sprint::cuda
