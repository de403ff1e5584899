// norm_kernels.cuh (CUDA backend, device side): the per-channel machinery of the batch-norm kernels, shared by
// norm.cu (BatchNorm2d) and norm_sums.cu (its synchronised form): reduction functors, deterministic partial-sum
// kernels over NCHW / NHWC (fixed-order double sums through per-block partials), the element-wise normalise and
// input-gradient functors, the reduction plan, the StreamWorkspace carve-up and cheap argument checks. See
// norm.cu's header for the numerics. Included only by .cu files.
#pragma once

#include <algorithm>

#include "sprint/backend/api/common.h"
#include "sprint/backend/cuda/channel_map.cuh"
#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"
#include "sprint/backend/cuda/workspace.h"
#include "sprint/core/tensor.h"

namespace sprint::cuda::norm_kernels {

// ------------------------------------------------------------------------------------------------------------
// Reduction functors: op.channel(c) once per channel, then op(i, s0, s1) per element (memory index i).
// ------------------------------------------------------------------------------------------------------------

template <class T>
struct SumOp {  // s0 += v
  const T* v;
  __device__ __forceinline__ void channel(int64_t) {}
  __device__ __forceinline__ void operator()(int64_t i, double& s0, double&) const {
    s0 += static_cast<double>(to_float(v[i]));
  }
};

template <class T>
struct SquaredDeviationOp {  // s0 += (x − mean_c)²
  const T* x;
  const double* mean;
  double m;
  __device__ __forceinline__ void channel(int64_t c) { m = mean[c]; }
  __device__ __forceinline__ void operator()(int64_t i, double& s0, double&) const {
    const double d = static_cast<double>(to_float(x[i])) - m;
    s0 += d * d;
  }
};

template <class T>
struct GradSumsOp {  // s0 += dy, s1 += dy · (x − mean_c)
  const T* dy;
  const T* x;
  const float* mean;
  double m;
  __device__ __forceinline__ void channel(int64_t c) { m = static_cast<double>(mean[c]); }
  __device__ __forceinline__ void operator()(int64_t i, double& s0, double& s1) const {
    const double g = static_cast<double>(to_float(dy[i]));
    s0 += g;
    s1 += g * (static_cast<double>(to_float(x[i])) - m);
  }
};

// ------------------------------------------------------------------------------------------------------------
// Partial-sum kernels. partials[(s · chunks + chunk) · C + c] for sum s in [0, kSums).
// ------------------------------------------------------------------------------------------------------------

// NCHW: element (n, c, j) at (n·C + c)·hw + j. Block (chunk = blockIdx.x, channel = blockIdx.y + k·gridDim.y)
// covers m = n·hw + j in [chunk·chunk_len, (chunk + 1)·chunk_len) ∩ [0, M); threads step by blockDim with an
// incremental (n, j) cursor.
template <int kSums, class Op>
__global__ void channel_partials_nchw_kernel(Op op, int64_t channels, int64_t hw, int64_t m_total,
                                             int64_t chunk_len, int64_t chunks, double* __restrict__ partials) {
  const int64_t chunk = blockIdx.x;
  const int64_t m_begin = chunk * chunk_len;
  const int64_t m_end = min(m_total, m_begin + chunk_len);
  const int64_t step = blockDim.x;
  for (int64_t c = blockIdx.y; c < channels; c += gridDim.y) {  // uniform over the block
    Op f = op;
    f.channel(c);
    double s0 = 0.0, s1 = 0.0;
    int64_t m = m_begin + threadIdx.x;
    if (m < m_end) {
      const int64_t dn = step / hw, dj = step % hw;  // hw >= 1 here (M > 0)
      int64_t n = m / hw, j = m % hw;
      for (; m < m_end; m += step) {
        f((n * channels + c) * hw + j, s0, s1);
        j += dj;
        n += dn;
        if (j >= hw) {
          j -= hw;
          ++n;
        }
      }
    }
    s0 = block_sum(s0);
    if constexpr (kSums > 1) s1 = block_sum(s1);
    if (threadIdx.x == 0) {
      partials[chunk * channels + c] = s0;
      if constexpr (kSums > 1) partials[(chunks + chunk) * channels + c] = s1;
    }
  }
}

constexpr int kTileChannels = 32;
constexpr int kTileRows = 8;

// NHWC: element (r, c) at r·C + c with r = n·hw + j. Block (32, 8): threadIdx.x = channel in the tile
// blockIdx.x, threadIdx.y = row lane; blockIdx.y = chunk of rows.
template <int kSums, class Op>
__global__ void channel_partials_nhwc_kernel(Op op, int64_t channels, int64_t rows, int64_t chunk_len,
                                             int64_t chunks, double* __restrict__ partials) {
  __shared__ double totals[kSums][kTileRows][kTileChannels + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kTileChannels + tx;
  const int64_t chunk = blockIdx.y;
  const int64_t r_begin = chunk * chunk_len;
  const int64_t r_end = min(rows, r_begin + chunk_len);
  double s0 = 0.0, s1 = 0.0;
  if (c < channels) {
    Op f = op;
    f.channel(c);
    for (int64_t r = r_begin + ty; r < r_end; r += kTileRows) f(r * channels + c, s0, s1);
  }
  totals[0][ty][tx] = s0;
  if constexpr (kSums > 1) totals[kSums - 1][ty][tx] = s1;
  __syncthreads();
  if (ty == 0 && c < channels) {
    double t0 = 0.0, t1 = 0.0;
#pragma unroll
    for (int k = 0; k < kTileRows; ++k) {
      t0 += totals[0][k][tx];
      if constexpr (kSums > 1) t1 += totals[kSums - 1][k][tx];
    }
    partials[chunk * channels + c] = t0;
    if constexpr (kSums > 1) partials[(chunks + chunk) * channels + c] = t1;
  }
}

__device__ __forceinline__ double sum_partials(const double* partials, int64_t chunks, int64_t channels,
                                               int64_t c, int s) {
  double t = 0.0;
  for (int64_t k = 0; k < chunks; ++k) t += partials[(s * chunks + k) * channels + c];
  return t;
}

/// Per-channel coefficients of the element-wise passes (float, C each).
struct Coefficients {
  float* a;  // normalise: mean (rounded)   dx: mean
  float* b;  // normalise: γ · invstd       dx: k1
  float* c;  // normalise: β                dx: k2
  float* d;  // normalise: mean − a         dx: k3
};

// ------------------------------------------------------------------------------------------------------------
// Element-wise per-channel passes (channel_map.cuh)
// ------------------------------------------------------------------------------------------------------------

template <class T>
struct NormalizeFn {  // y = ((x − a_c) − d_c) · b_c + c_c; y may alias x
  const T* x;
  T* y;
  Coefficients k;
  __device__ __forceinline__ void operator()(int64_t i, int64_t c) const {
    y[i] = from_float<T>(fmaf((to_float(x[i]) - k.a[c]) - k.d[c], k.b[c], k.c[c]));
  }
};

template <class T>
struct InputGradFn {  // dx (=|+=) b_c · dy + c_c · (x − a_c) + d_c
  const T* dy;
  const T* x;
  T* dx;
  Coefficients k;
  bool accumulate;
  __device__ __forceinline__ void operator()(int64_t i, int64_t c) const {
    const float g = fmaf(k.b[c], to_float(dy[i]), fmaf(k.c[c], to_float(x[i]) - k.a[c], k.d[c]));
    dx[i] = from_float<T>(accumulate ? to_float(dx[i]) + g : g);
  }
};

// ------------------------------------------------------------------------------------------------------------
// Launch helpers
// ------------------------------------------------------------------------------------------------------------

constexpr int64_t kTargetBlocks = 1024;   // partial-sum blocks per reduction (several per SM)
constexpr int64_t kMaxChunks = 1024;      // partials per channel
constexpr int64_t kMinChunkElements = 4096;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// How one per-channel reduction over a dense (N, C, H, W) tensor is split.
struct ReducePlan {
  ImageLayout layout;
  int64_t n, channels, hw;
  int64_t chunks, chunk_len;
};

inline ReducePlan plan_reduce(ImageLayout layout, int64_t n, int64_t channels, int64_t hw) {
  ReducePlan p{layout, n, channels, hw, 1, 1};
  const int64_t m = n * hw;  // values per channel (NHWC: rows)
  if (layout == ImageLayout::kNCHW) {
    p.chunks = std::min(ceil_div(m, kMinChunkElements), ceil_div(kTargetBlocks, std::max<int64_t>(channels, 1)));
  } else {
    const int64_t tiles = ceil_div(channels, kTileChannels);
    p.chunks = std::min(ceil_div(m, kMinChunkElements / kTileChannels), ceil_div(kTargetBlocks, std::max<int64_t>(tiles, 1)));
  }
  p.chunks = std::clamp<int64_t>(p.chunks, 1, kMaxChunks);
  p.chunk_len = std::max<int64_t>(1, ceil_div(m, p.chunks));
  p.chunks = std::max<int64_t>(1, ceil_div(m, p.chunk_len));  // no empty trailing chunk
  return p;
}

/// Queues the partial sums of `op` (kSums per channel) into `partials` (kSums · chunks · C doubles).
template <int kSums, class Op>
void launch_partials(cudaStream_t stream, const ReducePlan& p, const Op& op, double* partials) {
  if (p.layout == ImageLayout::kNCHW) {
    const dim3 grid(static_cast<unsigned>(p.chunks), static_cast<unsigned>(std::min<int64_t>(p.channels, 65535)));
    channel_partials_nchw_kernel<kSums, Op>
        <<<grid, kThreads, 0, stream>>>(op, p.channels, p.hw, p.n * p.hw, p.chunk_len, p.chunks, partials);
    SPRINT_CUDA_CHECK_LAUNCH("channel_partials_nchw_kernel");
  } else {
    const dim3 grid(static_cast<unsigned>(ceil_div(p.channels, kTileChannels)), static_cast<unsigned>(p.chunks));
    const dim3 block(kTileChannels, kTileRows);
    channel_partials_nhwc_kernel<kSums, Op>
        <<<grid, block, 0, stream>>>(op, p.channels, p.n * p.hw, p.chunk_len, p.chunks, partials);
    SPRINT_CUDA_CHECK_LAUNCH("channel_partials_nhwc_kernel");
  }
}

/// The pieces of one StreamWorkspace buffer an op uses: partial sums, a double per channel, coefficients.
struct NormWorkspace {
  double* partials;
  double* channel_double;
  Coefficients coef;
};

inline NormWorkspace take_workspace(const Stream& stream, int64_t n_partials, int64_t channels) {
  const size_t partial_bytes = StreamWorkspace::align_up(static_cast<size_t>(n_partials) * sizeof(double));
  const size_t double_bytes = StreamWorkspace::align_up(static_cast<size_t>(channels) * sizeof(double));
  const size_t float_bytes = StreamWorkspace::align_up(static_cast<size_t>(channels) * sizeof(float));
  char* base = static_cast<char*>(stream.context().extension<StreamWorkspace>().get(
      stream, partial_bytes + double_bytes + 4 * float_bytes));
  NormWorkspace w;
  w.partials = reinterpret_cast<double*>(base);
  w.channel_double = reinterpret_cast<double*>(base + partial_bytes);
  char* f = base + partial_bytes + double_bytes;
  w.coef = {reinterpret_cast<float*>(f), reinterpret_cast<float*>(f + float_bytes),
            reinterpret_cast<float*>(f + 2 * float_bytes), reinterpret_cast<float*>(f + 3 * float_bytes)};
  return w;
}

// ------------------------------------------------------------------------------------------------------------
// Validation (the ops layer checked everything; these guard direct backend calls cheaply)
// ------------------------------------------------------------------------------------------------------------

inline void check_activation(const Tensor& t, const Tensor& like, const char* name, const char* op) {
  SPRINT_CHECK(t.defined() && t.shape() == like.shape() && t.dtype() == like.dtype(),
               "{}: {} must be {} {}, got {}", op, name, dtype_name(like.dtype()), like.shape().to_string(),
               t.defined() ? t.description() : std::string("undefined"));
}

inline const float* param_or_null(const Tensor& t, int64_t channels, const char* name, const char* op) {
  if (!t.defined()) return nullptr;
  SPRINT_CHECK(t.ndim() == 1 && t.dim(0) == channels && t.dtype() == DType::kF32 && t.is_contiguous(),
               "{}: {} must be a contiguous f32 ({}) tensor on CUDA, got {}", op, name, channels,
               t.description());
  return static_cast<const float*>(t.data());
}

inline float* mutable_param_or_null(const Tensor& t, int64_t channels, const char* name, const char* op) {
  return const_cast<float*>(param_or_null(t, channels, name, op));
}

inline float* required_param(const Tensor& t, int64_t channels, const char* name, const char* op) {
  SPRINT_CHECK(t.defined(), "{}: {} is undefined", op, name);
  return mutable_param_or_null(t, channels, name, op);
}


}  // namespace sprint::cuda::norm_kernels
