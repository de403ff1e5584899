// elementwise.cu (CUDA): fill, cast/copy (any dtype pair, strided up to 6-D), ReLU forward/backward, axpby.
// Same semantics as backend/cpu/elementwise.cpp: conversions between different dtypes go through double
// exactly like the CPU loop; same-dtype copies move raw bits. Kernels first, then launchers, then the cuda::
// entries.
#include "sprint/backend/api/elementwise.h"

#include <cstring>

#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

constexpr int kMaxDims = Dims::kMaxDims;

/// Shape and element strides of a (collapsed) strided copy; dims [0, ndim) are used, innermost last.
struct StridedLayout {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t src_strides[kMaxDims];
  int64_t dst_strides[kMaxDims];
};

// Element offsets of logical (row-major) index i in src and dst.
__device__ __forceinline__ void strided_offsets(const StridedLayout& layout, int64_t i, int64_t& src,
                                                int64_t& dst) {
  src = 0;
  dst = 0;
#pragma unroll
  for (int d = kMaxDims - 1; d >= 0; --d) {
    if (d < layout.ndim) {
      const int64_t size = layout.sizes[d];
      const int64_t idx = i % size;
      i /= size;
      src += idx * layout.src_strides[d];
      dst += idx * layout.dst_strides[d];
    }
  }
}

template <class Bits>
__global__ void fill_kernel(Bits* __restrict__ out, int64_t n, Bits value) {
  SPRINT_GRID_STRIDE_LOOP(i, n) out[i] = value;
}

template <class S, class D>
__global__ void cast_contiguous_kernel(const S* __restrict__ src, D* __restrict__ dst, int64_t n) {
  SPRINT_GRID_STRIDE_LOOP(i, n) dst[i] = from_float<D>(to_float(src[i]));
}

// Same dtype, any strides: raw element copy (exact for every dtype, i64 included).
template <class Bits>
__global__ void copy_strided_kernel(const Bits* __restrict__ src, Bits* __restrict__ dst, int64_t n,
                                    const __grid_constant__ StridedLayout layout) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    int64_t so, dof;
    strided_offsets(layout, i, so, dof);
    dst[dof] = src[so];
  }
}

// The CPU's load_as_double / store_from_double, on the device.
__device__ double load_as_double(const char* p, int dtype) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF32: return *reinterpret_cast<const float*>(p);
    case DType::kF64: return *reinterpret_cast<const double*>(p);
    case DType::kF16: return __half2float(*reinterpret_cast<const __half*>(p));
    case DType::kBF16: return __bfloat162float(*reinterpret_cast<const __nv_bfloat16*>(p));
    case DType::kI32: return *reinterpret_cast<const int32_t*>(p);
    case DType::kI64: return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case DType::kU8: return *reinterpret_cast<const uint8_t*>(p);
  }
  return 0.0;
}

__device__ void store_from_double(char* p, int dtype, double v) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF32: *reinterpret_cast<float*>(p) = static_cast<float>(v); return;
    case DType::kF64: *reinterpret_cast<double*>(p) = v; return;
    case DType::kF16: *reinterpret_cast<__half*>(p) = __float2half_rn(static_cast<float>(v)); return;
    case DType::kBF16:
      *reinterpret_cast<__nv_bfloat16*>(p) = __float2bfloat16_rn(static_cast<float>(v));
      return;
    case DType::kI32: *reinterpret_cast<int32_t*>(p) = static_cast<int32_t>(v); return;
    case DType::kI64: *reinterpret_cast<int64_t*>(p) = static_cast<int64_t>(v); return;
    case DType::kU8: *reinterpret_cast<uint8_t*>(p) = static_cast<uint8_t>(v); return;
  }
}

// Any dtype pair, any strides (the generic path: integer dtypes, f64, layout changes with conversion).
__global__ void cast_strided_kernel(const char* __restrict__ src, char* __restrict__ dst, int src_dtype,
                                    int dst_dtype, int src_size, int dst_size, int64_t n,
                                    const __grid_constant__ StridedLayout layout) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    int64_t so, dof;
    strided_offsets(layout, i, so, dof);
    store_from_double(dst + dof * dst_size, dst_dtype, load_as_double(src + so * src_size, src_dtype));
  }
}

template <class T>
__global__ void relu_forward_kernel(const T* x, T* y, int64_t n) {  // y may alias x
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const float v = to_float(x[i]);
    y[i] = from_float<T>(v > 0.0f ? v : 0.0f);
  }
}

template <class T>
__global__ void relu_backward_kernel(const T* dy, const T* y, T* dx, int64_t n, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {  // dx may alias dy (overwrite mode): read both before the write
    const float g = to_float(y[i]) > 0.0f ? to_float(dy[i]) : 0.0f;
    dx[i] = from_float<T>(accumulate ? to_float(dx[i]) + g : g);
  }
}

template <class T>
__global__ void axpby_kernel(const T* a, const T* b, T* out, int64_t n, float alpha, float beta) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {  // beta == 0: b is not read (it may hold inf or NaN)
    const float bv = beta == 0.0f ? 0.0f : beta * to_float(b[i]);
    out[i] = from_float<T>(alpha * to_float(a[i]) + bv);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

template <class Bits>
void launch_fill(cudaStream_t stream, void* out, int64_t n, Bits value) {
  fill_kernel<Bits><<<blocks_for(n), kThreads, 0, stream>>>(static_cast<Bits*>(out), n, value);
  SPRINT_CUDA_CHECK_LAUNCH("fill_kernel");
}

// Drops size-1 dims and merges dims that are contiguous with their inner neighbour in both src and dst.
StridedLayout collapse(const Shape& shape, const Strides& src, const Strides& dst) {
  StridedLayout out{};
  out.ndim = 0;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (out.ndim > 0) {
      const int last = out.ndim - 1;
      if (out.src_strides[last] == src[d] * shape[d] && out.dst_strides[last] == dst[d] * shape[d]) {
        out.sizes[last] *= shape[d];
        out.src_strides[last] = src[d];
        out.dst_strides[last] = dst[d];
        continue;
      }
    }
    out.sizes[out.ndim] = shape[d];
    out.src_strides[out.ndim] = src[d];
    out.dst_strides[out.ndim] = dst[d];
    ++out.ndim;
  }
  if (out.ndim == 0) {  // a single element (0-d tensor or all dims of size 1)
    out.ndim = 1;
    out.sizes[0] = 1;
    out.src_strides[0] = 0;
    out.dst_strides[0] = 0;
  }
  return out;
}

bool is_float_family(DType d) {
  return is_cuda_floating(d);
}

void launch_cast_contiguous(cudaStream_t stream, DType sd, const void* src, DType dd, void* dst, int64_t n) {
  dispatch_floating(sd, "cast", [&](auto s_tag) {
    using S = typename decltype(s_tag)::type;
    dispatch_floating(dd, "cast", [&](auto d_tag) {
      using D = typename decltype(d_tag)::type;
      cast_contiguous_kernel<S, D>
          <<<blocks_for(n), kThreads, 0, stream>>>(static_cast<const S*>(src), static_cast<D*>(dst), n);
      SPRINT_CUDA_CHECK_LAUNCH("cast_contiguous_kernel");
    });
  });
}

void launch_copy_strided(cudaStream_t stream, size_t element_size, const void* src, void* dst, int64_t n,
                         const StridedLayout& layout) {
  const unsigned blocks = blocks_for(n);
  switch (element_size) {
    case 1:
      copy_strided_kernel<uint8_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint8_t*>(src),
                                                                    static_cast<uint8_t*>(dst), n, layout);
      break;
    case 2:
      copy_strided_kernel<uint16_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint16_t*>(src),
                                                                     static_cast<uint16_t*>(dst), n, layout);
      break;
    case 4:
      copy_strided_kernel<uint32_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint32_t*>(src),
                                                                     static_cast<uint32_t*>(dst), n, layout);
      break;
    case 8:
      copy_strided_kernel<uint64_t><<<blocks, kThreads, 0, stream>>>(static_cast<const uint64_t*>(src),
                                                                     static_cast<uint64_t*>(dst), n, layout);
      break;
    default: SPRINT_ASSERT(false, "unexpected element size {}", element_size);
  }
  SPRINT_CUDA_CHECK_LAUNCH("copy_strided_kernel");
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void fill(const Stream& s, const FillArgs& a) {
  OpScope scope(s, "cuda.fill");
  SPRINT_CHECK(a.out.is_contiguous(), "fill needs a contiguous tensor, got {}", a.out.description());
  const int64_t n = a.out.numel();
  if (n == 0) return;
  // The value converted exactly like the CPU fill, as a bit pattern of the element size.
  uint64_t bits = 0;
  const size_t es = a.out.element_size();
  switch (a.out.dtype()) {
    case DType::kF32: {
      const float v = static_cast<float>(a.value);
      std::memcpy(&bits, &v, 4);
      break;
    }
    case DType::kF64: std::memcpy(&bits, &a.value, 8); break;
    case DType::kF16: bits = f16_from_float(static_cast<float>(a.value)).bits; break;
    case DType::kBF16: bits = bf16_from_float(static_cast<float>(a.value)).bits; break;
    case DType::kI32: {
      const int32_t v = static_cast<int32_t>(a.value);
      std::memcpy(&bits, &v, 4);
      break;
    }
    case DType::kI64: {
      const int64_t v = static_cast<int64_t>(a.value);
      std::memcpy(&bits, &v, 8);
      break;
    }
    case DType::kU8: bits = static_cast<uint8_t>(a.value); break;
  }
  // A pattern whose bytes are all equal (zero, most commonly) is a memset.
  bool uniform = true;
  const uint8_t byte0 = static_cast<uint8_t>(bits & 0xff);
  for (size_t b = 1; b < es; ++b)
    uniform = uniform && static_cast<uint8_t>((bits >> (8 * b)) & 0xff) == byte0;
  if (uniform) {
    SPRINT_CUDA_CHECK(cudaMemsetAsync(a.out.data(), byte0, static_cast<size_t>(n) * es, scope.stream()));
    return;
  }
  switch (es) {
    case 2: launch_fill<uint16_t>(scope.stream(), a.out.data(), n, static_cast<uint16_t>(bits)); break;
    case 4: launch_fill<uint32_t>(scope.stream(), a.out.data(), n, static_cast<uint32_t>(bits)); break;
    case 8: launch_fill<uint64_t>(scope.stream(), a.out.data(), n, bits); break;
    default: SPRINT_ASSERT(false, "fill: unexpected element size {}", es);  // 1-byte patterns are uniform
  }
}

void cast(const Stream& s, const CastArgs& a) {
  OpScope scope(s, "cuda.cast");
  SPRINT_CHECK(a.src.shape() == a.dst.shape(), "cast: shapes differ, {} vs {}", a.src.description(),
               a.dst.description());
  const int64_t n = a.src.numel();
  if (n == 0) return;
  const DType sd = a.src.dtype(), dd = a.dst.dtype();
  const bool src_contiguous = a.src.is_contiguous(), dst_contiguous = a.dst.is_contiguous();
  if (sd == dd && src_contiguous && dst_contiguous) {
    if (a.src.data() != a.dst.data())
      SPRINT_CUDA_CHECK(cudaMemcpyAsync(a.dst.data(), a.src.data(), a.src.n_bytes(), cudaMemcpyDeviceToDevice,
                                        scope.stream()));
    return;
  }
  if (src_contiguous && dst_contiguous && is_float_family(sd) && is_float_family(dd)) {
    launch_cast_contiguous(scope.stream(), sd, a.src.data(), dd, a.dst.data(), n);
    return;
  }
  const StridedLayout layout = collapse(a.src.shape(), a.src.strides(), a.dst.strides());
  if (sd == dd) {
    launch_copy_strided(scope.stream(), a.src.element_size(), a.src.data(), a.dst.data(), n, layout);
    return;
  }
  cast_strided_kernel<<<blocks_for(n), kThreads, 0, scope.stream()>>>(
      static_cast<const char*>(a.src.data()), static_cast<char*>(a.dst.data()), static_cast<int>(sd),
      static_cast<int>(dd), static_cast<int>(a.src.element_size()), static_cast<int>(a.dst.element_size()), n,
      layout);
  SPRINT_CUDA_CHECK_LAUNCH("cast_strided_kernel");
}

void relu_forward(const Stream& s, const ReluForwardArgs& a) {
  OpScope scope(s, "cuda.relu_forward");
  SPRINT_CHECK(a.x.numel() == a.y.numel() && a.x.dtype() == a.y.dtype(), "relu_forward: x {} and y {} differ",
               a.x.description(), a.y.description());
  const int64_t n = a.x.numel();
  if (n == 0) return;
  dispatch_floating(a.x.dtype(), "relu_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    relu_forward_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(ptr<const T>(a.x), ptr<T>(a.y), n);
    SPRINT_CUDA_CHECK_LAUNCH("relu_forward_kernel");
  });
}

void relu_backward(const Stream& s, const ReluBackwardArgs& a) {
  OpScope scope(s, "cuda.relu_backward");
  const int64_t n = a.dy.numel();
  SPRINT_CHECK(
      a.y.numel() == n && a.dx.numel() == n && a.y.dtype() == a.dy.dtype() && a.dx.dtype() == a.dy.dtype(),
      "relu_backward: dy {}, y {} and dx {} differ", a.dy.description(), a.y.description(),
      a.dx.description());
  if (n == 0) return;
  dispatch_floating(a.dy.dtype(), "relu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    relu_backward_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(
        ptr<const T>(a.dy), ptr<const T>(a.y), ptr<T>(a.dx), n, a.mode == GradMode::kAccumulate);
    SPRINT_CUDA_CHECK_LAUNCH("relu_backward_kernel");
  });
}

void axpby(const Stream& s, const AxpbyArgs& a) {
  OpScope scope(s, "cuda.axpby");
  const int64_t n = a.out.numel();
  SPRINT_CHECK(
      a.a.numel() == n && a.b.numel() == n && a.a.dtype() == a.out.dtype() && a.b.dtype() == a.out.dtype(),
      "axpby: a {}, b {} and out {} differ", a.a.description(), a.b.description(), a.out.description());
  if (n == 0) return;
  dispatch_floating(a.out.dtype(), "axpby", [&](auto tag) {
    using T = typename decltype(tag)::type;
    axpby_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(
        ptr<const T>(a.a), ptr<const T>(a.b), ptr<T>(a.out), n, static_cast<float>(a.alpha),
        static_cast<float>(a.beta));
    SPRINT_CUDA_CHECK_LAUNCH("axpby_kernel");
  });
}

}  // namespace sprint::cuda
