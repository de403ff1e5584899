// norm_sums.cu (CUDA): batch norm around its per-channel sums (backend/api/norm_sums.h), NCHW and NHWC, f32 /
// f16 / bf16 activations with f32 per-channel tensors and f64 sums. Same semantics as backend/cpu/norm_sums.cpp.
// The reductions are norm.cu's deterministic partial sums (norm_kernels.cuh) finished by one thread per
// channel; the input gradient is norm.cu's element-wise pass with coefficients taken from the job's sums:
//   forward sums    Σ x, Σ x² (double)                       -> sums, M
//   statistics      mean = Σ x / M, var = Σ x² / M − mean²   -> mean, var, running statistics
//   backward sums   Σ dy, Σ dy · (x − mean) · invstd         -> sums, M, dβ, dγ (=|+=)
//   input gradient  dx = k1 · dy + k2 · (x − mean) + k3, k1 = γ·invstd, k2 = −k1·invstd·Σdyx̂ / M,
//                   k3 = −k1·Σdy / M
// Every launch queues on the given stream; M is read on the device (no host synchronisation).
#include "sprint/backend/api/norm_sums.h"

#include "sprint/backend/cuda/norm_kernels.cuh"

namespace sprint::cuda {
namespace {
using namespace norm_kernels;

template <class T>
struct SumAndSquareOp {  // s0 += x, s1 += x²
  const T* x;
  __device__ __forceinline__ void channel(int64_t) {}
  __device__ __forceinline__ void operator()(int64_t i, double& s0, double& s1) const {
    const double v = static_cast<double>(to_float(x[i]));
    s0 += v;
    s1 += v * v;
  }
};

// sums[c] = Σ partials of sum 0, sums[C + c] = Σ of sum 1 · scale1[c] (or 1), sums[2C] = m.
__global__ void sums_finalize_kernel(const double* __restrict__ partials, int64_t chunks, int64_t channels,
                                     double m, const float* __restrict__ scale1, double* __restrict__ sums,
                                     float* dgamma, float* dbeta, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const double s0 = sum_partials(partials, chunks, channels, c, 0);
    const double s1 = sum_partials(partials, chunks, channels, c, 1) *
                      (scale1 != nullptr ? static_cast<double>(scale1[c]) : 1.0);
    sums[c] = s0;
    sums[channels + c] = s1;
    if (dbeta != nullptr) dbeta[c] = accumulate ? dbeta[c] + static_cast<float>(s0) : static_cast<float>(s0);
    if (dgamma != nullptr) dgamma[c] = accumulate ? dgamma[c] + static_cast<float>(s1) : static_cast<float>(s1);
    if (c == 0) sums[2 * channels] = m;
  }
}

struct StatisticsParams {
  const double* sums;
  float* mean;
  float* var;
  float* running_mean;  // or null (then running_var too)
  float* running_var;
  double momentum;
};

__global__ void statistics_kernel(int64_t channels, StatisticsParams p) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const double m = p.sums[2 * channels];
    const double mean = p.sums[c] / m;
    const double var = fmax(p.sums[channels + c] / m - mean * mean, 0.0);
    p.mean[c] = static_cast<float>(mean);
    p.var[c] = static_cast<float>(var);
    if (p.running_mean != nullptr) {
      const double rm = p.running_mean[c], rv = p.running_var[c];
      p.running_mean[c] = static_cast<float>((1.0 - p.momentum) * rm + p.momentum * mean);
      p.running_var[c] = static_cast<float>((1.0 - p.momentum) * rv + p.momentum * var * m / (m - 1.0));
    }
  }
}

struct InputGradParams {
  const float* gamma;  // or null
  const float* save_mean;
  const float* save_invstd;
  const double* sums;
};

__global__ void input_grad_coefficients_kernel(int64_t channels, InputGradParams p, Coefficients coef) {
  SPRINT_GRID_STRIDE_LOOP(c, channels) {
    const double m = p.sums[2 * channels];
    const double invstd = static_cast<double>(p.save_invstd[c]);
    const double k1 = (p.gamma ? static_cast<double>(p.gamma[c]) : 1.0) * invstd;
    coef.a[c] = p.save_mean[c];
    coef.b[c] = static_cast<float>(k1);
    coef.c[c] = static_cast<float>(-k1 * invstd * p.sums[channels + c] / m);
    coef.d[c] = static_cast<float>(-k1 * p.sums[c] / m);
  }
}

double* sums_or_throw(const Tensor& sums, int64_t channels, const char* op) {
  SPRINT_CHECK(sums.defined() && sums.ndim() == 1 && sums.dim(0) == 2 * channels + 1 &&
                   sums.dtype() == DType::kF64 && sums.is_contiguous(),
               "{}: sums must be a contiguous f64 ({}) tensor, got {}", op, 2 * channels + 1,
               sums.defined() ? sums.description() : std::string("undefined"));
  return static_cast<double*>(sums.data());
}

}  // namespace

void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& a) {
  constexpr const char* op = "batch_norm_sums";
  OpScope scope(stream, "cuda.batch_norm_sums");
  check_cuda_floating(a.x.dtype(), op);
  const ImageLayout layout = image_layout({&a.x}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  double* sums = sums_or_throw(a.sums, channels, op);
  if (channels == 0) return;
  const ReducePlan plan = plan_reduce(layout, n, channels, hw);
  const NormWorkspace ws = take_workspace(stream, 2 * plan.chunks * channels, channels);
  const cudaStream_t s = scope.stream();
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_partials<2>(s, plan, SumAndSquareOp<T>{ptr<const T>(a.x)}, ws.partials);
  });
  sums_finalize_kernel<<<blocks_for(channels), kThreads, 0, s>>>(ws.partials, plan.chunks, channels,
                                                                 static_cast<double>(n * hw), nullptr, sums,
                                                                 nullptr, nullptr, false);
  SPRINT_CUDA_CHECK_LAUNCH("sums_finalize_kernel");
}

void batch_norm_statistics(const Stream& stream, const BatchNormStatisticsArgs& a) {
  constexpr const char* op = "batch_norm_statistics";
  OpScope scope(stream, "cuda.batch_norm_statistics");
  SPRINT_CHECK(a.mean.defined() && a.mean.ndim() == 1, "{}: mean must be a (C) tensor", op);
  const int64_t channels = a.mean.dim(0);
  StatisticsParams p{sums_or_throw(a.sums, channels, op),
                     required_param(a.mean, channels, "mean", op),
                     required_param(a.var, channels, "var", op),
                     mutable_param_or_null(a.running_mean, channels, "running_mean", op),
                     mutable_param_or_null(a.running_var, channels, "running_var", op),
                     a.momentum};
  SPRINT_CHECK((p.running_mean == nullptr) == (p.running_var == nullptr),
               "{}: give both running statistics or neither", op);
  if (channels == 0) return;
  statistics_kernel<<<blocks_for(channels), kThreads, 0, scope.stream()>>>(channels, p);
  SPRINT_CUDA_CHECK_LAUNCH("statistics_kernel");
}

void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& a) {
  constexpr const char* op = "batch_norm_backward_sums";
  OpScope scope(stream, "cuda.batch_norm_backward_sums");
  check_cuda_floating(a.x.dtype(), op);
  check_activation(a.dy, a.x, "dy", op);
  const ImageLayout layout = image_layout({&a.x, &a.dy}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  const float* mean = required_param(a.save_mean, channels, "save_mean", op);
  const float* invstd = required_param(a.save_invstd, channels, "save_invstd", op);
  double* sums = sums_or_throw(a.sums, channels, op);
  float* dgamma = mutable_param_or_null(a.dgamma, channels, "dgamma", op);
  float* dbeta = mutable_param_or_null(a.dbeta, channels, "dbeta", op);
  if (channels == 0) return;
  const ReducePlan plan = plan_reduce(layout, n, channels, hw);
  const NormWorkspace ws = take_workspace(stream, 2 * plan.chunks * channels, channels);
  const cudaStream_t s = scope.stream();
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_partials<2>(s, plan, GradSumsOp<T>{ptr<const T>(a.dy), ptr<const T>(a.x), mean, 0.0}, ws.partials);
  });
  sums_finalize_kernel<<<blocks_for(channels), kThreads, 0, s>>>(
      ws.partials, plan.chunks, channels, static_cast<double>(n * hw), invstd, sums, dgamma, dbeta,
      a.param_mode == GradMode::kAccumulate);
  SPRINT_CUDA_CHECK_LAUNCH("sums_finalize_kernel");
}

void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& a) {
  constexpr const char* op = "batch_norm_input_grad";
  OpScope scope(stream, "cuda.batch_norm_input_grad");
  check_cuda_floating(a.x.dtype(), op);
  check_activation(a.dy, a.x, "dy", op);
  check_activation(a.dx, a.x, "dx", op);
  const ImageLayout layout = image_layout({&a.x, &a.dy, &a.dx}, op);
  const int64_t n = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  InputGradParams p{param_or_null(a.gamma, channels, "gamma", op),
                    required_param(a.save_mean, channels, "save_mean", op),
                    required_param(a.save_invstd, channels, "save_invstd", op),
                    sums_or_throw(a.sums, channels, op)};
  if (channels == 0) return;
  const NormWorkspace ws = take_workspace(stream, 0, channels);
  const cudaStream_t s = scope.stream();
  input_grad_coefficients_kernel<<<blocks_for(channels), kThreads, 0, s>>>(channels, p, ws.coef);
  SPRINT_CUDA_CHECK_LAUNCH("input_grad_coefficients_kernel");
  dispatch_floating(a.x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_per_channel_map(s, layout, n, channels, hw,
                           InputGradFn<T>{ptr<const T>(a.dy), ptr<const T>(a.x), ptr<T>(a.dx), ws.coef,
                                          a.dx_mode == GradMode::kAccumulate});
  });
}

}  // namespace sprint::cuda
