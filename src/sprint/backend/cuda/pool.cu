// pool.cu (CUDA): max / average pooling over square windows and global average / max pooling, NCHW and NHWC,
// f32 / f16 / bf16 (float arithmetic). Same semantics as backend/cpu/pool.cpp:
//   - max: taps in (r, s) order, strict '>' (the first maximum wins ties; a NaN wins only as the first tap),
//     padding never wins; indices are i32 h·W + w inside the input plane;
//   - average: divisor kernel² (count_include_pad) or the number of in-bounds taps;
//   - global max: starts from x[0, 0] and takes strictly greater values (so a NaN counts only at position 0).
//
// Every backward is a GATHER over dx (one thread per input element, in dx's memory order): the thread visits
// the windows that contain its element — at most ceil(kernel / stride)² of them — and adds their contributions
// in (p, q) order, which is the order in which the CPU loop scatters them. No atomics, no zeroing pass, no
// race, deterministic, and with f32 the additions happen in the CPU's order (bit-identical sums). dx is read
// only in accumulate mode. Indices that point outside their window (corrupt input) are simply never matched.
//
// Kernels address every tensor of a call with the formulas of the call's layout (image.h). Index arithmetic is
// int32 when all element counts fit, int64 otherwise.
#include "sprint/backend/api/pool.h"

#include <limits>

#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"

namespace sprint::cuda {
namespace {

// ------------------------------------------------------------------------------------------------------------
// Indexing helpers
// ------------------------------------------------------------------------------------------------------------

/// (N, C, A, B) tensor in `kNhwc` layout: memory index -> (n, c, a, b).
template <bool kNhwc, class Index>
__device__ __forceinline__ void decompose(Index i, Index channels, Index rows, Index cols, Index& n, Index& c,
                                          Index& a, Index& b) {
  if constexpr (kNhwc) {
    c = i % channels;
    i /= channels;
    b = i % cols;
    i /= cols;
    a = i % rows;
    n = i / rows;
  } else {
    b = i % cols;
    i /= cols;
    a = i % rows;
    i /= rows;
    c = i % channels;
    n = i / channels;
  }
}

/// Memory index of (n, c, a, b) in an (N, C, A, B) tensor of layout `kNhwc`.
template <bool kNhwc, class Index>
__device__ __forceinline__ Index offset_of(Index n, Index c, Index a, Index b, Index channels, Index rows,
                                           Index cols) {
  if constexpr (kNhwc) return ((n * rows + a) * cols + b) * channels + c;
  return ((n * channels + c) * rows + a) * cols + b;
}

template <class Index>
struct PoolGeometry {
  Index n, c, h, w;  // input
  Index p, q;        // output
  Index kernel, stride, pad;
  bool include_pad;
};

/// Windows o (in [0, out)) whose span [o·stride − pad, o·stride − pad + kernel) contains input position x:
/// [lo, hi], empty when hi < lo.
template <class Index>
__device__ __forceinline__ void windows_containing(Index x, Index pad, Index kernel, Index stride, Index out,
                                                   Index& lo, Index& hi) {
  const Index xp = x + pad;
  hi = min(xp / stride, out - 1);
  lo = xp >= kernel ? (xp - kernel) / stride + 1 : Index(0);
}

/// Average-pooling divisor of output (p, q): kernel², or the in-bounds taps (as CPU for_each_tap counts them).
template <class Index>
__device__ __forceinline__ float avg_divisor(Index p, Index q, const PoolGeometry<Index>& g) {
  if (g.include_pad) return static_cast<float>(g.kernel * g.kernel);
  const Index h0 = p * g.stride - g.pad, w0 = q * g.stride - g.pad;
  const Index h1 = min(h0 + g.kernel, g.h), w1 = min(w0 + g.kernel, g.w);
  return static_cast<float>((h1 - max(h0, Index(0))) * (w1 - max(w0, Index(0))));
}

#define SPRINT_INDEX_LOOP(Index, i, n)                                                   \
  for (Index i = static_cast<Index>(blockIdx.x) * static_cast<Index>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<Index>(blockDim.x) * static_cast<Index>(gridDim.x))

// ------------------------------------------------------------------------------------------------------------
// Windowed pooling kernels
// ------------------------------------------------------------------------------------------------------------

template <class T, class Index, bool kNhwc>
__global__ void max_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, int32_t* __restrict__ indices,
                                        Index total, PoolGeometry<Index> g) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    Index n, c, p, q;
    decompose<kNhwc>(i, g.c, g.p, g.q, n, c, p, q);
    const Index h0 = p * g.stride - g.pad, w0 = q * g.stride - g.pad;
    T best_raw = from_float<T>(0.0f);
    float best = 0.0f;
    Index where = -1;
    for (Index r = 0; r < g.kernel; ++r) {
      const Index h = h0 + r;
      if (h < 0 || h >= g.h) continue;
      for (Index s = 0; s < g.kernel; ++s) {
        const Index w = w0 + s;
        if (w < 0 || w >= g.w) continue;
        const T raw = x[offset_of<kNhwc>(n, c, h, w, g.c, g.h, g.w)];
        const float v = to_float(raw);
        if (where < 0 || v > best) {
          best = v;
          best_raw = raw;
          where = h * g.w + w;
        }
      }
    }
    y[i] = best_raw;
    if (indices != nullptr) indices[i] = static_cast<int32_t>(where);
  }
}

// dx[n, c, h, w] (=|+=) Σ over windows (p, q) containing (h, w) whose index is h·W + w of dy[n, c, p, q].
template <class T, class Index, bool kNhwc>
__global__ void max_pool_backward_kernel(const T* __restrict__ dy, const int32_t* __restrict__ indices,
                                         T* __restrict__ dx, Index total, PoolGeometry<Index> g, bool accumulate) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    Index n, c, h, w;
    decompose<kNhwc>(i, g.c, g.h, g.w, n, c, h, w);
    Index p_lo, p_hi, q_lo, q_hi;
    windows_containing(h, g.pad, g.kernel, g.stride, g.p, p_lo, p_hi);
    windows_containing(w, g.pad, g.kernel, g.stride, g.q, q_lo, q_hi);
    const int32_t here = static_cast<int32_t>(h * g.w + w);
    float acc = accumulate ? to_float(dx[i]) : 0.0f;
    for (Index p = p_lo; p <= p_hi; ++p)
      for (Index q = q_lo; q <= q_hi; ++q) {
        const Index o = offset_of<kNhwc>(n, c, p, q, g.c, g.p, g.q);
        if (indices[o] == here) acc = __fadd_rn(acc, to_float(dy[o]));
      }
    dx[i] = from_float<T>(acc);
  }
}

template <class T, class Index, bool kNhwc>
__global__ void avg_pool_forward_kernel(const T* __restrict__ x, T* __restrict__ y, Index total,
                                        PoolGeometry<Index> g) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    Index n, c, p, q;
    decompose<kNhwc>(i, g.c, g.p, g.q, n, c, p, q);
    const Index h0 = p * g.stride - g.pad, w0 = q * g.stride - g.pad;
    const Index h_begin = max(h0, Index(0)), h_end = min(h0 + g.kernel, g.h);
    const Index w_begin = max(w0, Index(0)), w_end = min(w0 + g.kernel, g.w);
    float sum = 0.0f;
    for (Index h = h_begin; h < h_end; ++h)
      for (Index w = w_begin; w < w_end; ++w) sum += to_float(x[offset_of<kNhwc>(n, c, h, w, g.c, g.h, g.w)]);
    y[i] = from_float<T>(sum / avg_divisor(p, q, g));
  }
}

template <class T, class Index, bool kNhwc>
__global__ void avg_pool_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, Index total,
                                         PoolGeometry<Index> g, bool accumulate) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    Index n, c, h, w;
    decompose<kNhwc>(i, g.c, g.h, g.w, n, c, h, w);
    Index p_lo, p_hi, q_lo, q_hi;
    windows_containing(h, g.pad, g.kernel, g.stride, g.p, p_lo, p_hi);
    windows_containing(w, g.pad, g.kernel, g.stride, g.q, q_lo, q_hi);
    float acc = accumulate ? to_float(dx[i]) : 0.0f;
    for (Index p = p_lo; p <= p_hi; ++p)
      for (Index q = q_lo; q <= q_hi; ++q)
        acc = __fadd_rn(acc, __fdiv_rn(to_float(dy[offset_of<kNhwc>(n, c, p, q, g.c, g.p, g.q)]),
                                       avg_divisor(p, q, g)));
    dx[i] = from_float<T>(acc);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Global pooling kernels. (N, C) tensors are contiguous: element (n, c) at n·C + c. hw = H·W >= 1.
// ------------------------------------------------------------------------------------------------------------

constexpr int kWarpsPerBlock = kThreads / 32;

// NCHW: one warp per contiguous plane.
template <class T>
__global__ void global_avg_forward_nchw_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes,
                                               int64_t hw) {
  const int lane = threadIdx.x & 31;
  for (int64_t plane = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); plane < planes;
       plane += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* src = x + plane * hw;
    float sum = 0.0f;
    for (int64_t j = lane; j < hw; j += 32) sum += to_float(src[j]);
    sum = warp_sum(sum);
    if (lane == 0) y[plane] = from_float<T>(sum / static_cast<float>(hw));
  }
}

// NHWC: one thread per (n, c); consecutive threads read consecutive channels of one row.
template <class T>
__global__ void global_avg_forward_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t channels,
                                               int64_t planes, int64_t hw) {
  SPRINT_GRID_STRIDE_LOOP(i, planes) {
    const int64_t n = i / channels, c = i % channels;
    const T* src = x + n * hw * channels + c;
    float sum = 0.0f;
    for (int64_t j = 0; j < hw; ++j) sum += to_float(src[j * channels]);
    y[i] = from_float<T>(sum / static_cast<float>(hw));
  }
}

// dx (=|+=) dy[n, c] / hw over each plane, in dx's memory order.
template <class T, class Index, bool kNhwc>
__global__ void global_avg_backward_kernel(const T* __restrict__ dy, T* __restrict__ dx, Index total,
                                           Index channels, Index hw, bool accumulate) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    const Index nc = kNhwc ? (i / (hw * channels)) * channels + i % channels : i / hw;
    const float g = __fdiv_rn(to_float(dy[nc]), static_cast<float>(hw));
    dx[i] = from_float<T>(accumulate ? __fadd_rn(to_float(dx[i]), g) : g);
  }
}

/// Running maximum of a lane: `valid` false until the first (non-NaN) value.
struct ArgMax {
  float value;
  int64_t index;
  bool valid;
};

// The better of two partial results: the larger value, the smaller index on ties (first maximum).
__device__ __forceinline__ ArgMax better(const ArgMax& a, const ArgMax& b) {
  if (!b.valid) return a;
  if (!a.valid) return b;
  if (b.value > a.value || (b.value == a.value && b.index < a.index)) return b;
  return a;
}

// NCHW: one warp per plane. Each lane scans its strided share skipping NaNs, the warp combines (first maximum);
// a NaN at position 0 is the CPU's answer (nothing compares greater than it), with index 0.
template <class T>
__global__ void global_max_forward_nchw_kernel(const T* __restrict__ x, T* __restrict__ y,
                                               int32_t* __restrict__ indices, int64_t planes, int64_t hw) {
  const int lane = threadIdx.x & 31;
  for (int64_t plane = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); plane < planes;
       plane += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* src = x + plane * hw;
    ArgMax m{0.0f, 0, false};
    for (int64_t j = lane; j < hw; j += 32) {
      const float v = to_float(src[j]);
      if (!isnan(v) && (!m.valid || v > m.value)) m = {v, j, true};
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
      ArgMax other;
      other.value = __shfl_xor_sync(kFullMask, m.value, offset);
      other.index = __shfl_xor_sync(kFullMask, m.index, offset);
      other.valid = __shfl_xor_sync(kFullMask, static_cast<int>(m.valid), offset) != 0;
      m = better(m, other);
    }
    if (lane == 0) {
      const float first = to_float(src[0]);
      if (isnan(first) || !m.valid) m = {first, 0, true};
      y[plane] = from_float<T>(m.value);
      if (indices != nullptr) indices[plane] = static_cast<int32_t>(m.index);
    }
  }
}

// NHWC: one thread per (n, c), the CPU's sequential scan.
template <class T>
__global__ void global_max_forward_nhwc_kernel(const T* __restrict__ x, T* __restrict__ y,
                                               int32_t* __restrict__ indices, int64_t channels, int64_t planes,
                                               int64_t hw) {
  SPRINT_GRID_STRIDE_LOOP(i, planes) {
    const int64_t n = i / channels, c = i % channels;
    const T* src = x + n * hw * channels + c;
    T best_raw = src[0];
    float best = to_float(best_raw);
    int64_t where = 0;
    for (int64_t j = 1; j < hw; ++j) {
      const T raw = src[j * channels];
      const float v = to_float(raw);
      if (v > best) {
        best = v;
        best_raw = raw;
        where = j;
      }
    }
    y[i] = best_raw;
    if (indices != nullptr) indices[i] = static_cast<int32_t>(where);
  }
}

// dx (=|+=) dy[n, c] at plane position indices[n, c], 0 elsewhere.
template <class T, class Index, bool kNhwc>
__global__ void global_max_backward_kernel(const T* __restrict__ dy, const int32_t* __restrict__ indices,
                                           T* __restrict__ dx, Index total, Index channels, Index hw,
                                           bool accumulate) {
  SPRINT_INDEX_LOOP(Index, i, total) {
    Index nc, j;
    if constexpr (kNhwc) {
      const Index c = i % channels, t = i / channels;  // t = n·hw + j
      j = t % hw;
      nc = (t / hw) * channels + c;
    } else {
      nc = i / hw;
      j = i % hw;
    }
    const bool hit = static_cast<Index>(indices[nc]) == j;
    if (accumulate) {
      if (hit) dx[i] = from_float<T>(__fadd_rn(to_float(dx[i]), to_float(dy[nc])));
    } else {
      dx[i] = hit ? dy[nc] : from_float<T>(0.0f);
    }
  }
}

#undef SPRINT_INDEX_LOOP

// ------------------------------------------------------------------------------------------------------------
// Launch helpers
// ------------------------------------------------------------------------------------------------------------

/// int32 index arithmetic is safe when every index, plus one grid stride, stays below 2^31.
bool fits_int32(int64_t n) {
  return n <= std::numeric_limits<int32_t>::max() - kMaxBlocks * kThreads;
}

/// Calls f(Index{}, std::bool_constant<nhwc>{}) with the index type and layout of a call.
template <class F>
void dispatch_index_layout(int64_t max_numel, ImageLayout layout, F&& f) {
  const bool nhwc = layout == ImageLayout::kNHWC;
  if (fits_int32(max_numel)) {
    if (nhwc) f(int32_t{}, std::true_type{});
    else f(int32_t{}, std::false_type{});
  } else {
    if (nhwc) f(int64_t{}, std::true_type{});
    else f(int64_t{}, std::false_type{});
  }
}

template <class Index>
PoolGeometry<Index> geometry(const Tensor& in, const Tensor& out, const Pool2dParams& prm) {
  return {static_cast<Index>(in.dim(0)),  static_cast<Index>(in.dim(1)),   static_cast<Index>(in.dim(2)),
          static_cast<Index>(in.dim(3)),  static_cast<Index>(out.dim(2)),  static_cast<Index>(out.dim(3)),
          static_cast<Index>(prm.kernel), static_cast<Index>(prm.stride), static_cast<Index>(prm.padding),
          prm.count_include_pad};
}

/// Shapes and dtypes of a windowed call (the ops layer validated them; cheap re-checks guard direct calls).
void check_windowed(const Tensor& in, const Tensor& out, const Pool2dParams& prm, const char* op) {
  check_cuda_floating(in.dtype(), op);
  SPRINT_CHECK(in.ndim() == 4 && out.ndim() == 4 && out.dim(0) == in.dim(0) && out.dim(1) == in.dim(1) &&
                   out.dim(2) == pool2d_output_size(in.dim(2), prm) &&
                   out.dim(3) == pool2d_output_size(in.dim(3), prm) && out.dtype() == in.dtype(),
               "{}: input {} and output {} do not match the window (kernel {}, stride {}, padding {})", op,
               in.description(), out.description(), prm.kernel, prm.stride, prm.padding);
  SPRINT_CHECK(prm.kernel >= 1 && prm.stride >= 1 && prm.padding >= 0 && 2 * prm.padding <= prm.kernel &&
                   prm.kernel <= std::numeric_limits<int32_t>::max() &&
                   prm.stride <= std::numeric_limits<int32_t>::max(),
               "{}: bad window (kernel {}, stride {}, padding {})", op, prm.kernel, prm.stride, prm.padding);
  SPRINT_CHECK(in.dim(2) * in.dim(3) <= std::numeric_limits<int32_t>::max(),
               "{}: {}x{} planes overflow i32 indices", op, in.dim(2), in.dim(3));
}

void check_indices(const Tensor& indices, const Tensor& like, const char* op) {
  SPRINT_CHECK(indices.dtype() == DType::kI32 && indices.shape() == like.shape(),
               "{}: indices must be i32 {}, got {}", op, like.shape().to_string(), indices.description());
}

void check_global(const Tensor& image, const Tensor& flat, const char* op) {
  check_cuda_floating(image.dtype(), op);
  SPRINT_CHECK(image.ndim() == 4 && flat.ndim() == 2 && flat.dim(0) == image.dim(0) &&
                   flat.dim(1) == image.dim(1) && flat.is_contiguous() && flat.dtype() == image.dtype(),
               "{}: {} and {} do not match (N, C, H, W) -> contiguous (N, C)", op, image.description(),
               flat.description());
  SPRINT_CHECK(image.dim(2) * image.dim(3) >= 1 && image.dim(2) * image.dim(3) <= std::numeric_limits<int32_t>::max(),
               "{}: bad spatial size {}x{}", op, image.dim(2), image.dim(3));
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& a) {
  constexpr const char* op = "max_pool2d_forward";
  OpScope scope(stream, "cuda.max_pool2d_forward");
  check_windowed(a.x, a.y, a.params, op);
  if (a.indices.defined()) check_indices(a.indices, a.y, op);
  const ImageLayout layout = image_layout({&a.x, &a.y, &a.indices}, op);
  const int64_t total = a.y.numel();
  if (total == 0) return;
  int32_t* indices = a.indices.defined() ? static_cast<int32_t*>(a.indices.data()) : nullptr;
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(std::max(a.x.numel(), total), layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      max_pool_forward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.x), ptr<T>(a.y), indices, static_cast<Index>(total), geometry<Index>(a.x, a.y, a.params));
      SPRINT_CUDA_CHECK_LAUNCH("max_pool_forward_kernel");
    });
  });
}

void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& a) {
  constexpr const char* op = "max_pool2d_backward";
  OpScope scope(stream, "cuda.max_pool2d_backward");
  check_windowed(a.dx, a.dy, a.params, op);
  check_indices(a.indices, a.dy, op);
  const ImageLayout layout = image_layout({&a.dx, &a.dy, &a.indices}, op);
  const int64_t total = a.dx.numel();
  if (total == 0) return;
  const bool accumulate = a.mode == GradMode::kAccumulate;
  dispatch_floating(a.dy.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(std::max(a.dy.numel(), total), layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      max_pool_backward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.dy), static_cast<const int32_t*>(a.indices.data()), ptr<T>(a.dx),
          static_cast<Index>(total), geometry<Index>(a.dx, a.dy, a.params), accumulate);
      SPRINT_CUDA_CHECK_LAUNCH("max_pool_backward_kernel");
    });
  });
}

void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& a) {
  constexpr const char* op = "avg_pool2d_forward";
  OpScope scope(stream, "cuda.avg_pool2d_forward");
  check_windowed(a.x, a.y, a.params, op);
  const ImageLayout layout = image_layout({&a.x, &a.y}, op);
  const int64_t total = a.y.numel();
  if (total == 0) return;
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(std::max(a.x.numel(), total), layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      avg_pool_forward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.x), ptr<T>(a.y), static_cast<Index>(total), geometry<Index>(a.x, a.y, a.params));
      SPRINT_CUDA_CHECK_LAUNCH("avg_pool_forward_kernel");
    });
  });
}

void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& a) {
  constexpr const char* op = "avg_pool2d_backward";
  OpScope scope(stream, "cuda.avg_pool2d_backward");
  check_windowed(a.dx, a.dy, a.params, op);
  const ImageLayout layout = image_layout({&a.dx, &a.dy}, op);
  const int64_t total = a.dx.numel();
  if (total == 0) return;
  const bool accumulate = a.mode == GradMode::kAccumulate;
  dispatch_floating(a.dy.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(std::max(a.dy.numel(), total), layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      avg_pool_backward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.dy), ptr<T>(a.dx), static_cast<Index>(total), geometry<Index>(a.dx, a.dy, a.params),
          accumulate);
      SPRINT_CUDA_CHECK_LAUNCH("avg_pool_backward_kernel");
    });
  });
}

void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& a) {
  constexpr const char* op = "global_avg_pool2d_forward";
  OpScope scope(stream, "cuda.global_avg_pool2d_forward");
  check_global(a.x, a.y, op);
  const ImageLayout layout = image_layout({&a.x}, op);
  const int64_t planes = a.y.numel(), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  if (planes == 0) return;
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == ImageLayout::kNHWC) {
      global_avg_forward_nhwc_kernel<T>
          <<<blocks_for(planes), kThreads, 0, scope.stream()>>>(ptr<const T>(a.x), ptr<T>(a.y), channels, planes, hw);
      SPRINT_CUDA_CHECK_LAUNCH("global_avg_forward_nhwc_kernel");
    } else {
      global_avg_forward_nchw_kernel<T><<<blocks_for(planes, kWarpsPerBlock), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.x), ptr<T>(a.y), planes, hw);
      SPRINT_CUDA_CHECK_LAUNCH("global_avg_forward_nchw_kernel");
    }
  });
}

void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& a) {
  constexpr const char* op = "global_avg_pool2d_backward";
  OpScope scope(stream, "cuda.global_avg_pool2d_backward");
  check_global(a.dx, a.dy, op);
  const ImageLayout layout = image_layout({&a.dx}, op);
  const int64_t total = a.dx.numel(), channels = a.dx.dim(1), hw = a.dx.dim(2) * a.dx.dim(3);
  if (total == 0) return;
  const bool accumulate = a.mode == GradMode::kAccumulate;
  dispatch_floating(a.dx.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(total, layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      global_avg_backward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.dy), ptr<T>(a.dx), static_cast<Index>(total), static_cast<Index>(channels),
          static_cast<Index>(hw), accumulate);
      SPRINT_CUDA_CHECK_LAUNCH("global_avg_backward_kernel");
    });
  });
}

void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& a) {
  constexpr const char* op = "global_max_pool2d_forward";
  OpScope scope(stream, "cuda.global_max_pool2d_forward");
  check_global(a.x, a.y, op);
  if (a.indices.defined()) check_indices(a.indices, a.y, op);
  SPRINT_CHECK(!a.indices.defined() || a.indices.is_contiguous(), "{}: indices must be contiguous", op);
  const ImageLayout layout = image_layout({&a.x}, op);
  const int64_t planes = a.y.numel(), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  if (planes == 0) return;
  int32_t* indices = a.indices.defined() ? static_cast<int32_t*>(a.indices.data()) : nullptr;
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (layout == ImageLayout::kNHWC) {
      global_max_forward_nhwc_kernel<T><<<blocks_for(planes), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.x), ptr<T>(a.y), indices, channels, planes, hw);
      SPRINT_CUDA_CHECK_LAUNCH("global_max_forward_nhwc_kernel");
    } else {
      global_max_forward_nchw_kernel<T><<<blocks_for(planes, kWarpsPerBlock), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.x), ptr<T>(a.y), indices, planes, hw);
      SPRINT_CUDA_CHECK_LAUNCH("global_max_forward_nchw_kernel");
    }
  });
}

void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& a) {
  constexpr const char* op = "global_max_pool2d_backward";
  OpScope scope(stream, "cuda.global_max_pool2d_backward");
  check_global(a.dx, a.dy, op);
  check_indices(a.indices, a.dy, op);
  SPRINT_CHECK(a.indices.is_contiguous(), "{}: indices must be contiguous", op);
  const ImageLayout layout = image_layout({&a.dx}, op);
  const int64_t total = a.dx.numel(), channels = a.dx.dim(1), hw = a.dx.dim(2) * a.dx.dim(3);
  if (total == 0) return;
  const bool accumulate = a.mode == GradMode::kAccumulate;
  dispatch_floating(a.dx.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch_index_layout(total, layout, [&](auto index, auto nhwc) {
      using Index = decltype(index);
      global_max_backward_kernel<T, Index, decltype(nhwc)::value><<<blocks_for(total), kThreads, 0, scope.stream()>>>(
          ptr<const T>(a.dy), static_cast<const int32_t*>(a.indices.data()), ptr<T>(a.dx), static_cast<Index>(total),
          static_cast<Index>(channels), static_cast<Index>(hw), accumulate);
      SPRINT_CUDA_CHECK_LAUNCH("global_max_backward_kernel");
    });
  });
}

}  // namespace sprint::cuda
