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
#include "sprint/backend/cuda/norm_kernels.cuh"
#include "sprint/backend/cuda/workspace.h"

namespace sprint::cuda {
namespace {
using namespace norm_kernels;

// ------------------------------------------------------------------------------------------------------------
// Per-channel finalize kernels (one thread per channel)
// ------------------------------------------------------------------------------------------------------------

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