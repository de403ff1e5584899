// norm.cu (CUDA): BatchNorm2d forward (training / inference) and backward, NCHW and NHWC, f32 / f16 / bf16
// activations with f32 per-channel tensors. Same semantics as backend/cpu/norm.cpp.
//
// Why own kernels and not cudnnBatchNormalization*: the API allows an absent gamma and/or beta, GradMode
// accumulate into dx and into dgamma/dbeta independently, a backward with constant statistics
// (use_batch_stats = false, after forward inference), a dgamma-only or dbeta-only backward and undefined dx;
// cuDNN's legacy BN needs scale and bias buffers, always writes both parameter gradients and always
// differentiates through the batch statistics. Writing the kernels costs one extra read of x in training
// (two-pass statistics) and buys exact control of the numerics:
//
//   training   pass 1: Σ x (double)            -> mean          (per-block partials, fixed-order sums)
//              pass 2: Σ (x − mean)² (double)   -> biased var, invstd = 1 / sqrt(var + eps) (double), the
//                                                 running statistics (momentum, unbiased var · M / (M − 1))
//              pass 3: y = (x − mean) · (γ · invstd) + β   (float, the mean as a hi + lo float pair; y may
//                                                           alias x)
//   inference  per channel: invstd from running_var in double; y as pass 3
//   backward   one pass: Σ dy and Σ dy · (x − mean) (double) -> dβ, dγ (written if defined, =|+=); then
//              dx = k1 · dy + k2 · (x − mean) + k3 with k1 = γ·invstd and, with batch statistics,
//              k2 = −γ·invstd²·dγ / M, k3 = −γ·invstd·dβ / M (the CPU formula rearranged), else k2 = k3 = 0.
//
// Reductions: the N·H·W values of a channel are split into chunks; one block (NCHW: 256 threads over the
// contiguous planes of one channel; NHWC: 32 channels × 8 rows, coalesced over channels) reduces a chunk in a
// fixed order and writes a partial; a finalize kernel (one thread per channel) adds the partials in chunk
// order. Deterministic for a given shape. Partials and per-channel coefficients live in the stream's
// StreamWorkspace (no allocation in steady state). Element-wise passes loop over NCHW planes / NHWC rows so
// that the channel of an element is known without a division per element.
#include "sprint/backend/api/norm.h"

#include <algorithm>

#include "sprint/backend/cuda/channel_map.cuh"
#include "sprint/backend/cuda/channel_reduce.h"
#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"
#include "sprint/backend/cuda/workspace.h"

namespace sprint::cuda {
namespace {

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

// ------------------------------------------------------------------------------------------------------------
// Per-channel finalize kernels (one thread per channel)
// ------------------------------------------------------------------------------------------------------------

/// Per-channel coefficients of the element-wise passes (float, C each).
struct Coefficients {
  float* a;  // normalise: mean (rounded)   dx: mean
  float* b;  // normalise: γ · invstd       dx: k1
  float* c;  // normalise: β                dx: k2
  float* d;  // normalise: mean − a         dx: k3
};

__global__ void bn_mean_kernel(const double* __restrict__ partials, int64_t chunks, int64_t channels, double m,
                               double* __restrict__ mean) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) mean[c] = sum_partials(partials, chunks, channels, c, 0) / m;
}

struct TrainingParams {
  const float* gamma;  // or null
  const float* beta;   // or null
  float* running_mean;  // or null (then running_var too)
  float* running_var;
  float* save_mean;
  float* save_invstd;
  double eps, momentum, m;
};

__global__ void bn_training_finalize_kernel(const double* __restrict__ partials, int64_t chunks,
                                            int64_t channels, const double* __restrict__ mean_d,
                                            TrainingParams p, Coefficients coef) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const double mean = mean_d[c];
    const double var = sum_partials(partials, chunks, channels, c, 0) / p.m;  // biased: normalises
    const double invstd = 1.0 / sqrt(var + p.eps);
    const double g = p.gamma ? static_cast<double>(p.gamma[c]) : 1.0;
    const double b = p.beta ? static_cast<double>(p.beta[c]) : 0.0;
    if (p.running_mean != nullptr) {
      const double rm = p.running_mean[c], rv = p.running_var[c];
      p.running_mean[c] = static_cast<float>((1.0 - p.momentum) * rm + p.momentum * mean);
      p.running_var[c] =
          static_cast<float>((1.0 - p.momentum) * rv + p.momentum * var * p.m / (p.m - 1.0));  // unbiased
    }
    p.save_mean[c] = static_cast<float>(mean);
    p.save_invstd[c] = static_cast<float>(invstd);
    // The double mean as a float pair: x − mean is then as accurate as the deviation itself even when
    // |mean| >> std (a single float mean would add ulp(mean) / 2 to every deviation).
    const float mean_hi = static_cast<float>(mean);
    coef.a[c] = mean_hi;
    coef.b[c] = static_cast<float>(g * invstd);
    coef.c[c] = static_cast<float>(b);
    coef.d[c] = static_cast<float>(mean - static_cast<double>(mean_hi));
  }
}

struct InferenceParams {
  const float* gamma;  // or null
  const float* beta;   // or null
  const float* running_mean;
  const float* running_var;
  float* save_mean;    // or null
  float* save_invstd;  // or null
  double eps;
};

__global__ void bn_inference_prepare_kernel(int64_t channels, InferenceParams p, Coefficients coef) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const float mean = p.running_mean[c];
    const double invstd = 1.0 / sqrt(static_cast<double>(p.running_var[c]) + p.eps);
    const double g = p.gamma ? static_cast<double>(p.gamma[c]) : 1.0;
    const float b = p.beta ? p.beta[c] : 0.0f;
    // Coefficients first: save_mean may be the very tensor running_mean is (a caller's choice).
    coef.a[c] = mean;
    coef.b[c] = static_cast<float>(g * invstd);
    coef.c[c] = b;
    coef.d[c] = 0.0f;  // the running mean is a float: exact
    if (p.save_mean != nullptr) p.save_mean[c] = mean;
    if (p.save_invstd != nullptr) p.save_invstd[c] = static_cast<float>(invstd);
  }
}

struct BackwardParams {
  const float* gamma;  // or null
  const float* save_mean;
  const float* save_invstd;
  float* dgamma;  // or null
  float* dbeta;   // or null
  double m;
  bool have_sums;  // partials hold Σ dy and Σ dy·(x − mean)
  bool use_batch_stats;
  bool accumulate_params;
};

__global__ void bn_backward_finalize_kernel(const double* __restrict__ partials, int64_t chunks,
                                            int64_t channels, BackwardParams p, Coefficients coef) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const double mean = static_cast<double>(p.save_mean[c]);
    const double invstd = static_cast<double>(p.save_invstd[c]);
    const double g = p.gamma ? static_cast<double>(p.gamma[c]) : 1.0;
    double dbeta = 0.0, dgamma = 0.0;
    if (p.have_sums) {
      dbeta = sum_partials(partials, chunks, channels, c, 0);
      dgamma = sum_partials(partials, chunks, channels, c, 1) * invstd;
    }
    if (p.dgamma != nullptr) {
      const float v = static_cast<float>(dgamma);
      p.dgamma[c] = p.accumulate_params ? p.dgamma[c] + v : v;
    }
    if (p.dbeta != nullptr) {
      const float v = static_cast<float>(dbeta);
      p.dbeta[c] = p.accumulate_params ? p.dbeta[c] + v : v;
    }
    const double k1 = g * invstd;
    coef.a[c] = static_cast<float>(mean);
    coef.b[c] = static_cast<float>(k1);
    coef.c[c] = p.use_batch_stats ? static_cast<float>(-k1 * invstd * dgamma / p.m) : 0.0f;
    coef.d[c] = p.use_batch_stats ? static_cast<float>(-k1 * dbeta / p.m) : 0.0f;
  }
}

template <class T>
__global__ void bias_grad_finalize_kernel(const double* __restrict__ partials, int64_t chunks, int64_t channels,
                                          T* __restrict__ db, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const float v = static_cast<float>(sum_partials(partials, chunks, channels, c, 0));
    db[c] = from_float<T>(accumulate ? to_float(db[c]) + v : v);
  }
}

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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// How one per-channel reduction over a dense (N, C, H, W) tensor is split.
struct ReducePlan {
  ImageLayout layout;
  int64_t n, channels, hw;
  int64_t chunks, chunk_len;
};

ReducePlan plan_reduce(ImageLayout layout, int64_t n, int64_t channels, int64_t hw) {
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

NormWorkspace take_workspace(const Stream& stream, int64_t n_partials, int64_t channels) {
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

void check_activation(const Tensor& t, const Tensor& like, const char* name, const char* op) {
  SPRINT_CHECK(t.defined() && t.shape() == like.shape() && t.dtype() == like.dtype(),
               "{}: {} must be {} {}, got {}", op, name, dtype_name(like.dtype()), like.shape().to_string(),
               t.defined() ? t.description() : std::string("undefined"));
}

const float* param_or_null(const Tensor& t, int64_t channels, const char* name, const char* op) {
  if (!t.defined()) return nullptr;
  SPRINT_CHECK(t.ndim() == 1 && t.dim(0) == channels && t.dtype() == DType::kF32 && t.is_contiguous(),
               "{}: {} must be a contiguous f32 ({}) tensor on CUDA, got {}", op, name, channels,
               t.description());
  return static_cast<const float*>(t.data());
}

float* mutable_param_or_null(const Tensor& t, int64_t channels, const char* name, const char* op) {
  return const_cast<float*>(param_or_null(t, channels, name, op));
}

float* required_param(const Tensor& t, int64_t channels, const char* name, const char* op) {
  SPRINT_CHECK(t.defined(), "{}: {} is undefined", op, name);
  return mutable_param_or_null(t, channels, name, op);
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Shared with the convolution: bias gradient
// ------------------------------------------------------------------------------------------------------------

void launch_bias_grad(const Stream& stream, DType dtype, ImageLayout layout, const void* dy, int64_t n,
                      int64_t channels, int64_t hw, DType db_dtype, void* db, bool accumulate) {
  SPRINT_CHECK(db_dtype == dtype || db_dtype == DType::kF32, "conv2d bias gradient: {} dy sums into {} or f32, not {}",
               dtype_name(dtype), dtype_name(dtype), dtype_name(db_dtype));
  if (channels == 0) return;
  const cudaStream_t native = stream_of(stream);
  const ReducePlan plan = plan_reduce(layout, n, channels, hw);
  const NormWorkspace ws = take_workspace(stream, plan.chunks * channels, channels);
  dispatch_floating(dtype, "conv2d bias gradient", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_partials<1>(native, plan, SumOp<T>{static_cast<const T*>(dy)}, ws.partials);
    if (db_dtype == DType::kF32)
      bias_grad_finalize_kernel<float><<<blocks_for(channels), kThreads, 0, native>>>(
          ws.partials, plan.chunks, channels, static_cast<float*>(db), accumulate);
    else
      bias_grad_finalize_kernel<T><<<blocks_for(channels), kThreads, 0, native>>>(
          ws.partials, plan.chunks, channels, static_cast<T*>(db), accumulate);
    SPRINT_CUDA_CHECK_LAUNCH("bias_grad_finalize_kernel");
  });
}

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& a) {
  constexpr const char* op = "batch_norm_forward_training";
  OpScope scope(stream, "cuda.batch_norm_forward_training");
  check_cuda_floating(a.x.dtype(), op);
  check_activation(a.y, a.x, "y", op);
  const ImageLayout layout = image_layout({&a.x, &a.y}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  const int64_t m = n * hw;
  SPRINT_CHECK(m >= 2, "{}: training needs more than one value per channel, got x {}", op, a.x.description());
  SPRINT_CHECK(a.running_mean.defined() == a.running_var.defined(), "{}: give both running statistics or neither",
               op);
  TrainingParams p{param_or_null(a.gamma, channels, "gamma", op),
                   param_or_null(a.beta, channels, "beta", op),
                   mutable_param_or_null(a.running_mean, channels, "running_mean", op),
                   mutable_param_or_null(a.running_var, channels, "running_var", op),
                   required_param(a.save_mean, channels, "save_mean", op),
                   required_param(a.save_invstd, channels, "save_invstd", op),
                   a.eps,
                   a.momentum,
                   static_cast<double>(m)};
  if (channels == 0) return;
  const ReducePlan plan = plan_reduce(layout, n, channels, hw);
  const NormWorkspace ws = take_workspace(stream, plan.chunks * channels, channels);
  const cudaStream_t s = scope.stream();
  const unsigned channel_blocks = blocks_for(channels);
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = ptr<const T>(a.x);
    launch_partials<1>(s, plan, SumOp<T>{x}, ws.partials);
    bn_mean_kernel<<<channel_blocks, kThreads, 0, s>>>(ws.partials, plan.chunks, channels, p.m,
                                                       ws.channel_double);
    SPRINT_CUDA_CHECK_LAUNCH("bn_mean_kernel");
    launch_partials<1>(s, plan, SquaredDeviationOp<T>{x, ws.channel_double, 0.0}, ws.partials);
    bn_training_finalize_kernel<<<channel_blocks, kThreads, 0, s>>>(ws.partials, plan.chunks, channels,
                                                                    ws.channel_double, p, ws.coef);
    SPRINT_CUDA_CHECK_LAUNCH("bn_training_finalize_kernel");
    launch_per_channel_map(s, layout, n, channels, hw, NormalizeFn<T>{x, ptr<T>(a.y), ws.coef});
  });
}

void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& a) {
  constexpr const char* op = "batch_norm_forward_inference";
  OpScope scope(stream, "cuda.batch_norm_forward_inference");
  check_cuda_floating(a.x.dtype(), op);
  check_activation(a.y, a.x, "y", op);
  const ImageLayout layout = image_layout({&a.x, &a.y}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  InferenceParams p{param_or_null(a.gamma, channels, "gamma", op),
                    param_or_null(a.beta, channels, "beta", op),
                    required_param(a.running_mean, channels, "running_mean", op),
                    required_param(a.running_var, channels, "running_var", op),
                    mutable_param_or_null(a.save_mean, channels, "save_mean", op),
                    mutable_param_or_null(a.save_invstd, channels, "save_invstd", op),
                    a.eps};
  if (channels == 0) return;
  const NormWorkspace ws = take_workspace(stream, 0, channels);
  const cudaStream_t s = scope.stream();
  bn_inference_prepare_kernel<<<blocks_for(channels), kThreads, 0, s>>>(channels, p, ws.coef);
  SPRINT_CUDA_CHECK_LAUNCH("bn_inference_prepare_kernel");
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_per_channel_map(s, layout, n, channels, hw, NormalizeFn<T>{ptr<const T>(a.x), ptr<T>(a.y), ws.coef});
  });
}

void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& a) {
  constexpr const char* op = "batch_norm_backward";
  OpScope scope(stream, "cuda.batch_norm_backward");
  check_cuda_floating(a.x.dtype(), op);
  check_activation(a.dy, a.x, "dy", op);
  if (a.dx.defined()) check_activation(a.dx, a.x, "dx", op);
  const ImageLayout layout = image_layout({&a.x, &a.dy, &a.dx}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  SPRINT_CHECK(!a.dgamma.defined() || a.gamma.defined(), "{}: dgamma requested without a gamma", op);
  BackwardParams p{param_or_null(a.gamma, channels, "gamma", op),
                   required_param(a.save_mean, channels, "save_mean", op),
                   required_param(a.save_invstd, channels, "save_invstd", op),
                   mutable_param_or_null(a.dgamma, channels, "dgamma", op),
                   mutable_param_or_null(a.dbeta, channels, "dbeta", op),
                   static_cast<double>(n * hw),
                   false,
                   a.use_batch_stats,
                   a.param_mode == GradMode::kAccumulate};
  if (channels == 0) return;
  // The sums are needed for the parameter gradients and for dx through the batch statistics.
  p.have_sums = p.dgamma != nullptr || p.dbeta != nullptr || (a.dx.defined() && a.use_batch_stats);
  if (!p.have_sums && !a.dx.defined()) return;
  const ReducePlan plan = plan_reduce(layout, n, channels, hw);
  const NormWorkspace ws = take_workspace(stream, p.have_sums ? 2 * plan.chunks * channels : 0, channels);
  const cudaStream_t s = scope.stream();
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = ptr<const T>(a.x);
    const T* dy = ptr<const T>(a.dy);
    if (p.have_sums) launch_partials<2>(s, plan, GradSumsOp<T>{dy, x, p.save_mean, 0.0}, ws.partials);
    bn_backward_finalize_kernel<<<blocks_for(channels), kThreads, 0, s>>>(ws.partials, plan.chunks, channels, p,
                                                                          ws.coef);
    SPRINT_CUDA_CHECK_LAUNCH("bn_backward_finalize_kernel");
    if (a.dx.defined())
      launch_per_channel_map(s, layout, n, channels, hw,
                             InputGradFn<T>{dy, x, ptr<T>(a.dx), ws.coef, a.dx_mode == GradMode::kAccumulate});
  });
}

}  // namespace sprint::cuda
