// conv_kernels.cu (CUDA): weight reorders KCRS <-> KRSC and the forward bias + ReLU epilogue (conv_kernels.h).
#include "sprint/backend/cuda/conv_kernels.h"

#include "sprint/backend/cuda/channel_map.cuh"
#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

// One thread per KRSC element i = ((k·R + r)·S + s)·Cg + c  <->  KCRS element ((k·Cg + c)·R + r)·S + s.
__device__ __forceinline__ int64_t kcrs_index(int64_t i, int64_t cg, int64_t rs) {
  const int64_t c = i % cg, t = i / cg;  // t = k·RS + rs_index
  const int64_t k = t / rs, rs_index = t % rs;
  return (k * cg + c) * rs + rs_index;
}

template <class T>
__global__ void kcrs_to_krsc_kernel(const T* __restrict__ src, T* __restrict__ dst, int64_t n, int64_t cg,
                                    int64_t rs) {
  SPRINT_GRID_STRIDE_LOOP(i, n) dst[i] = src[kcrs_index(i, cg, rs)];
}

template <class S, class D>
__global__ void filter_gradient_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n, int64_t cg,
                                       int64_t rs, bool src_krsc, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const int64_t o = src_krsc ? kcrs_index(i, cg, rs) : i;
    const float v = to_float(src[i]);
    dst[o] = from_float<D>(accumulate ? __fadd_rn(to_float(dst[o]), v) : v);
  }
}

template <class T>
struct BiasActivationFn {
  T* y;
  const T* b;  // or null
  bool relu;
  __device__ __forceinline__ void operator()(int64_t i, int64_t c) const {
    float v = to_float(y[i]);
    if (b != nullptr) v = __fadd_rn(v, to_float(b[c]));
    if (relu && v < 0.0f) v = 0.0f;
    y[i] = from_float<T>(v);
  }
};

}  // namespace

void launch_kcrs_to_krsc(cudaStream_t stream, DType dtype, const void* src, void* dst, int64_t k, int64_t cg,
                         int64_t r, int64_t s) {
  const int64_t n = k * cg * r * s;
  if (n == 0) return;
  dispatch_floating(dtype, "conv2d weight reorder", [&](auto tag) {
    using T = typename decltype(tag)::type;
    kcrs_to_krsc_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const T*>(src),
                                                                   static_cast<T*>(dst), n, cg, r * s);
    SPRINT_CUDA_CHECK_LAUNCH("kcrs_to_krsc_kernel");
  });
}

void launch_filter_gradient_to_kcrs(cudaStream_t stream, DType src_dtype, const void* src, DType dst_dtype, void* dst,
                                    int64_t k, int64_t cg, int64_t r, int64_t s, bool src_krsc, bool accumulate) {
  SPRINT_CHECK(dst_dtype == src_dtype || dst_dtype == DType::kF32,
               "conv2d weight gradient: {} values go into {} or f32, not {}", dtype_name(src_dtype),
               dtype_name(src_dtype), dtype_name(dst_dtype));
  const int64_t n = k * cg * r * s;
  if (n == 0) return;
  dispatch_floating(src_dtype, "conv2d weight-gradient store", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (dst_dtype == DType::kF32)
      filter_gradient_kernel<T, float><<<blocks_for(n), kThreads, 0, stream>>>(
          static_cast<const T*>(src), static_cast<float*>(dst), n, cg, r * s, src_krsc, accumulate);
    else
      filter_gradient_kernel<T, T><<<blocks_for(n), kThreads, 0, stream>>>(
          static_cast<const T*>(src), static_cast<T*>(dst), n, cg, r * s, src_krsc, accumulate);
    SPRINT_CUDA_CHECK_LAUNCH("filter_gradient_kernel");
  });
}

void launch_bias_activation_4d(cudaStream_t stream, DType dtype, ImageLayout layout, void* y, const void* b,
                               int64_t n, int64_t k, int64_t pq, bool relu) {
  if (b == nullptr && !relu) return;
  dispatch_floating(dtype, "conv2d bias/activation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_per_channel_map(stream, layout, n, k, pq,
                           BiasActivationFn<T>{static_cast<T*>(y), static_cast<const T*>(b), relu});
  });
}

}  // namespace sprint::cuda
