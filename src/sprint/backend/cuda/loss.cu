// loss.cu (CUDA): log-softmax, NLL, fused softmax cross-entropy with label smoothing, count of correct
// predictions. Same math as backend/cpu/loss.cpp. Rows (N, K) are handled one warp per row with float
// arithmetic; the loss is reduced on the device into the 0-d loss tensor without a host synchronisation: each
// block sums its rows in double (fixed order), block partials go to a per-stream scratch buffer and one warp
// adds them in a fixed order (deterministic for a given N). With one block the first kernel writes the loss
// directly. Targets outside [0, K) cannot raise an exception on the device: they make the loss and that row's
// gradient NaN (the CPU backend throws InvalidArgument).
#include "sprint/backend/api/loss.h"

#include <cmath>

#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/scratch.h"

namespace sprint::cuda {
namespace {

constexpr int kRowThreads = 256;  // 8 warps per block, one row per warp at a time
constexpr int kRowsPerBlock = kRowThreads / 32;

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

/// Where a reduced loss goes: the 0-d tensor (f32 or f64) scaled by `scale`, via per-block partials when the
/// grid has more than one block.
struct LossOut {
  void* loss;
  int loss_is_f64;
  double scale;
  double* partials;
};

__device__ __forceinline__ void write_loss(const LossOut& out, double sum) {
  const double v = sum * out.scale;
  if (out.loss_is_f64)
    *static_cast<double*>(out.loss) = v;
  else
    *static_cast<float*>(out.loss) = static_cast<float>(v);
}

// Every thread of the block calls this once with its share of the loss sum.
__device__ __forceinline__ void finish_loss_block(double v, const LossOut& out) {
  const double total = block_sum(v);
  if (threadIdx.x == 0) {
    if (gridDim.x == 1)
      write_loss(out, total);
    else
      out.partials[blockIdx.x] = total;
  }
}

// One warp: sums n_partials block partials in a fixed order and writes the loss.
__global__ void loss_finalize_kernel(const double* __restrict__ partials, int n_partials, LossOut out) {
  double v = 0.0;
  for (int i = static_cast<int>(threadIdx.x); i < n_partials; i += 32) v += partials[i];
  v = warp_sum(v);
  if (threadIdx.x == 0) write_loss(out, v);
}

__device__ __forceinline__ bool valid_target(int32_t t, int64_t k) {
  return t >= 0 && static_cast<int64_t>(t) < k;
}

// Warp-per-row loop: `row` is uniform across the warp, so whole warps enter and leave together (shuffles
// safe).
#define SPRINT_ROW_LOOP(row, n_rows)                                                                        \
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5); row < (n_rows); \
       row += static_cast<int64_t>(gridDim.x) * kRowsPerBlock)

// max_j x[j] and log(sum_j exp(x[j] - max)) for one row, held by all lanes.
template <class T>
__device__ __forceinline__ float row_logsumexp(const T* row, int64_t k, int lane) {
  float m = -INFINITY;
  for (int64_t j = lane; j < k; j += 32) m = fmaxf(m, to_float(row[j]));
  m = warp_max(m);
  float s = 0.0f;
  for (int64_t j = lane; j < k; j += 32) s += expf(to_float(row[j]) - m);
  s = warp_sum(s);
  return m + logf(s);
}

// y may alias x (each lane reads x[j] before writing y[j]; the row statistics come first).
template <class T>
__global__ void log_softmax_forward_kernel(const T* x, T* y, int64_t n, int64_t k) {
  const int lane = threadIdx.x & 31;
  SPRINT_ROW_LOOP(row, n) {
    const T* xr = x + row * k;
    T* yr = y + row * k;
    const float lse = row_logsumexp(xr, k, lane);
    for (int64_t j = lane; j < k; j += 32) yr[j] = from_float<T>(to_float(xr[j]) - lse);
  }
}

// dx may alias dy (element-wise read-then-write after the row sum).
template <class T>
__global__ void log_softmax_backward_kernel(const T* dy, const T* y, T* dx, int64_t n, int64_t k,
                                            bool accumulate) {
  const int lane = threadIdx.x & 31;
  SPRINT_ROW_LOOP(row, n) {
    const int64_t base = row * k;
    float sum = 0.0f;
    for (int64_t j = lane; j < k; j += 32) sum += to_float(dy[base + j]);
    sum = warp_sum(sum);
    for (int64_t j = lane; j < k; j += 32) {
      const float g = to_float(dy[base + j]) - expf(to_float(y[base + j])) * sum;
      dx[base + j] = from_float<T>(accumulate ? to_float(dx[base + j]) + g : g);
    }
  }
}

// Thread per row: -logp[i, target_i].
template <class T>
__global__ void nll_loss_forward_kernel(const T* __restrict__ logp, const int32_t* __restrict__ target,
                                        int64_t n, int64_t k, LossOut out) {
  double acc = 0.0;
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const int32_t t = target[i];
    acc += valid_target(t, k) ? -static_cast<double>(to_float(logp[i * k + t])) : static_cast<double>(NAN);
  }
  finish_loss_block(acc, out);
}

template <class T>
__global__ void nll_loss_backward_kernel(const int32_t* __restrict__ target, T* __restrict__ d, int64_t n,
                                         int64_t k, float g, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(i, n * k) {
    const int64_t row = i / k;
    const int64_t j = i - row * k;
    const int32_t t = target[row];
    const float v = !valid_target(t, k) ? NAN : (j == t ? g : 0.0f);
    d[i] = from_float<T>(accumulate ? to_float(d[i]) + v : v);
  }
}

// Warp per row: probs = softmax(logits); loss_row = (1 - eps)(lse - x_t) + eps (lse - mean_j x_j).
// probs may alias logits: the target logit is read before the row is overwritten.
template <class T>
__global__ void cross_entropy_forward_kernel(const T* x, const int32_t* __restrict__ target, T* probs,
                                             int64_t n, int64_t k, float eps, LossOut out) {
  const int lane = threadIdx.x & 31;
  double acc = 0.0;  // meaningful in lane 0
  SPRINT_ROW_LOOP(row, n) {
    const T* xr = x + row * k;
    T* pr = probs + row * k;
    const int32_t t = target[row];
    const float x_t = valid_target(t, k) ? to_float(xr[t]) : 0.0f;
    const float lse = row_logsumexp(xr, k, lane);
    float sum_x = 0.0f;
    for (int64_t j = lane; j < k; j += 32) {
      const float v = to_float(xr[j]);
      sum_x += v;
      pr[j] = from_float<T>(expf(v - lse));
    }
    sum_x = warp_sum(sum_x);
    if (lane == 0) {
      if (valid_target(t, k)) {
        const double nll = static_cast<double>(lse) - static_cast<double>(x_t);
        const double smooth = static_cast<double>(lse) - static_cast<double>(sum_x) / static_cast<double>(k);
        acc += (1.0 - static_cast<double>(eps)) * nll + static_cast<double>(eps) * smooth;
      } else {
        acc += static_cast<double>(NAN);
      }
    }
  }
  finish_loss_block(acc, out);
}

// dlogits = g (probs - q), q = (1 - eps) one_hot(t) + eps / K.
// d may alias probs (element-wise read-then-write).
template <class T>
__global__ void cross_entropy_backward_kernel(const T* probs, const int32_t* __restrict__ target, T* d,
                                              int64_t n, int64_t k, float g, float eps, float off,
                                              bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(i, n * k) {
    const int64_t row = i / k;
    const int64_t j = i - row * k;
    const int32_t t = target[row];
    float v;
    if (valid_target(t, k)) {
      const float q = (j == t ? 1.0f - eps : 0.0f) + off;
      v = g * (to_float(probs[i]) - q);
    } else {
      v = NAN;
    }
    d[i] = from_float<T>(accumulate ? to_float(d[i]) + v : v);
  }
}

// Warp per row: first arg-max (CPU rule: best = 0, then j wins iff row[j] > row[best]; so a NaN in column 0
// wins, other NaNs never do), compared with the target; block count added to the i64 counter atomically
// (integer addition: deterministic).
template <class T>
__global__ void count_correct_kernel(const T* __restrict__ scores, const int32_t* __restrict__ target,
                                     int64_t n, int64_t k, unsigned long long* __restrict__ correct) {
  const int lane = threadIdx.x & 31;
  unsigned long long count = 0;  // meaningful in lane 0
  SPRINT_ROW_LOOP(row, n) {
    const T* r = scores + row * k;
    int64_t best = 0;
    if (k > 0 && !isnan(to_float(r[0]))) {
      float best_v = -INFINITY;
      int64_t best_i = INT64_MAX;  // "no candidate" in this lane
      for (int64_t j = lane; j < k; j += 32) {
        const float v = to_float(r[j]);
        if (!isnan(v) &&
            (best_i == INT64_MAX || v > best_v)) {  // ascending j: the first max of the lane wins
          best_v = v;
          best_i = j;
        }
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset >>= 1) {
        const float ov = __shfl_xor_sync(kFullMask, best_v, offset);
        const int64_t oi = __shfl_xor_sync(kFullMask, best_i, offset);
        const bool other_better =
            oi != INT64_MAX && (best_i == INT64_MAX || ov > best_v || (ov == best_v && oi < best_i));
        if (other_better) {
          best_v = ov;
          best_i = oi;
        }
      }
      best = best_i;  // column 0 is a non-NaN candidate, so some lane found one
    }
    if (lane == 0 && best == static_cast<int64_t>(target[row])) ++count;
  }
  const unsigned long long block_count = block_sum(count);
  if (threadIdx.x == 0 && block_count != 0) atomicAdd(correct, block_count);
}

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

void check_rows(const Tensor& t, const char* op) {
  SPRINT_CHECK(t.ndim() == 2 && t.is_contiguous(), "{}: expected a contiguous (N, K) tensor, got {}", op,
               t.description());
}

void check_target(const Tensor& target, int64_t n, const char* op) {
  SPRINT_CHECK(target.dtype() == DType::kI32 && target.numel() == n && target.is_contiguous(),
               "{}: targets must be a contiguous i32 tensor of {} entries, got {}", op, n,
               target.description());
}

LossOut make_loss_out(const Tensor& loss, Reduction reduction, int64_t n) {
  SPRINT_CHECK(loss.numel() == 1 && (loss.dtype() == DType::kF32 || loss.dtype() == DType::kF64),
               "loss must be a 0-d f32/f64 tensor, got {}", loss.description());
  LossOut out{};
  out.loss = loss.data();
  out.loss_is_f64 = loss.dtype() == DType::kF64 ? 1 : 0;
  out.scale = reduction == Reduction::kMean && n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
  out.partials = nullptr;
  return out;
}

// Grid of a loss-reducing kernel (bounded by the scratch capacity) and the scratch when it has several
// blocks.
unsigned prepare_loss_grid(const Stream& stream, int64_t work_items, int64_t per_block, LossOut& out) {
  const unsigned blocks = blocks_for(work_items, per_block, StreamScratch::kCapacity);
  if (blocks > 1) out.partials = stream.context().extension<StreamScratch>().partials(stream);
  return blocks;
}

void finalize_loss(cudaStream_t stream, unsigned blocks, const LossOut& out) {
  if (blocks <= 1) return;
  loss_finalize_kernel<<<1, 32, 0, stream>>>(out.partials, static_cast<int>(blocks), out);
  SPRINT_CUDA_CHECK_LAUNCH("loss_finalize_kernel");
}

double mean_divisor(Reduction reduction, int64_t n) {
  return reduction == Reduction::kMean && n > 0 ? static_cast<double>(n) : 1.0;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void log_softmax_forward(const Stream& s, const LogSoftmaxForwardArgs& a) {
  OpScope scope(s, "cuda.log_softmax_forward");
  check_rows(a.x, "log_softmax_forward");
  SPRINT_CHECK(a.y.shape() == a.x.shape() && a.y.dtype() == a.x.dtype() && a.y.is_contiguous(),
               "log_softmax_forward: y {} does not match x {}", a.y.description(), a.x.description());
  const int64_t n = a.x.dim(0), k = a.x.dim(1);
  if (n == 0 || k == 0) return;
  dispatch_floating(a.x.dtype(), "log_softmax_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    log_softmax_forward_kernel<T><<<blocks_for(n, kRowsPerBlock), kRowThreads, 0, scope.stream()>>>(
        ptr<const T>(a.x), ptr<T>(a.y), n, k);
    SPRINT_CUDA_CHECK_LAUNCH("log_softmax_forward_kernel");
  });
}

void log_softmax_backward(const Stream& s, const LogSoftmaxBackwardArgs& a) {
  OpScope scope(s, "cuda.log_softmax_backward");
  check_rows(a.y, "log_softmax_backward");
  SPRINT_CHECK(a.dy.shape() == a.y.shape() && a.dx.shape() == a.y.shape() && a.dy.dtype() == a.y.dtype() &&
                   a.dx.dtype() == a.y.dtype() && a.dy.is_contiguous() && a.dx.is_contiguous(),
               "log_softmax_backward: dy {}, y {}, dx {} differ", a.dy.description(), a.y.description(),
               a.dx.description());
  const int64_t n = a.y.dim(0), k = a.y.dim(1);
  if (n == 0 || k == 0) return;
  dispatch_floating(a.y.dtype(), "log_softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    log_softmax_backward_kernel<T><<<blocks_for(n, kRowsPerBlock), kRowThreads, 0, scope.stream()>>>(
        ptr<const T>(a.dy), ptr<const T>(a.y), ptr<T>(a.dx), n, k, a.mode == GradMode::kAccumulate);
    SPRINT_CUDA_CHECK_LAUNCH("log_softmax_backward_kernel");
  });
}

void nll_loss_forward(const Stream& s, const NllLossForwardArgs& a) {
  OpScope scope(s, "cuda.nll_loss_forward");
  check_rows(a.logp, "nll_loss_forward");
  const int64_t n = a.logp.dim(0), k = a.logp.dim(1);
  check_target(a.target, n, "nll_loss_forward");
  LossOut out = make_loss_out(a.loss, a.reduction, n);
  const unsigned blocks = prepare_loss_grid(s, n, kThreads, out);
  dispatch_floating(a.logp.dtype(), "nll_loss_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    nll_loss_forward_kernel<T><<<blocks, kThreads, 0, scope.stream()>>>(
        ptr<const T>(a.logp), ptr<const int32_t>(a.target), n, k, out);
    SPRINT_CUDA_CHECK_LAUNCH("nll_loss_forward_kernel");
  });
  finalize_loss(scope.stream(), blocks, out);
}

void nll_loss_backward(const Stream& s, const NllLossBackwardArgs& a) {
  OpScope scope(s, "cuda.nll_loss_backward");
  check_rows(a.dlogp, "nll_loss_backward");
  const int64_t n = a.dlogp.dim(0), k = a.dlogp.dim(1);
  check_target(a.target, n, "nll_loss_backward");
  if (n == 0 || k == 0) return;
  const float g = static_cast<float>(-a.scale / mean_divisor(a.reduction, n));
  dispatch_floating(a.dlogp.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    nll_loss_backward_kernel<T><<<blocks_for(n * k), kThreads, 0, scope.stream()>>>(
        ptr<const int32_t>(a.target), ptr<T>(a.dlogp), n, k, g, a.mode == GradMode::kAccumulate);
    SPRINT_CUDA_CHECK_LAUNCH("nll_loss_backward_kernel");
  });
}

void cross_entropy_forward(const Stream& s, const CrossEntropyForwardArgs& a) {
  OpScope scope(s, "cuda.cross_entropy_forward");
  check_rows(a.logits, "cross_entropy_forward");
  const int64_t n = a.logits.dim(0), k = a.logits.dim(1);
  check_target(a.target, n, "cross_entropy_forward");
  SPRINT_CHECK(
      a.probs.shape() == a.logits.shape() && a.probs.dtype() == a.logits.dtype() && a.probs.is_contiguous(),
      "cross_entropy_forward: probs {} does not match logits {}", a.probs.description(),
      a.logits.description());
  LossOut out = make_loss_out(a.loss, a.reduction, n);
  const unsigned blocks = prepare_loss_grid(s, n, kRowsPerBlock, out);
  const float eps = static_cast<float>(a.label_smoothing);
  dispatch_floating(a.logits.dtype(), "cross_entropy_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_forward_kernel<T><<<blocks, kRowThreads, 0, scope.stream()>>>(
        ptr<const T>(a.logits), ptr<const int32_t>(a.target), ptr<T>(a.probs), n, k, eps, out);
    SPRINT_CUDA_CHECK_LAUNCH("cross_entropy_forward_kernel");
  });
  finalize_loss(scope.stream(), blocks, out);
}

void cross_entropy_backward(const Stream& s, const CrossEntropyBackwardArgs& a) {
  OpScope scope(s, "cuda.cross_entropy_backward");
  check_rows(a.probs, "cross_entropy_backward");
  const int64_t n = a.probs.dim(0), k = a.probs.dim(1);
  check_target(a.target, n, "cross_entropy_backward");
  SPRINT_CHECK(a.dlogits.shape() == a.probs.shape() && a.dlogits.dtype() == a.probs.dtype() &&
                   a.dlogits.is_contiguous(),
               "cross_entropy_backward: dlogits {} does not match probs {}", a.dlogits.description(),
               a.probs.description());
  if (n == 0 || k == 0) return;
  const float g = static_cast<float>(a.scale / mean_divisor(a.reduction, n));
  const float eps = static_cast<float>(a.label_smoothing);
  const float off = static_cast<float>(a.label_smoothing / static_cast<double>(k));
  dispatch_floating(a.probs.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_backward_kernel<T><<<blocks_for(n * k), kThreads, 0, scope.stream()>>>(
        ptr<const T>(a.probs), ptr<const int32_t>(a.target), ptr<T>(a.dlogits), n, k, g, eps, off,
        a.mode == GradMode::kAccumulate);
    SPRINT_CUDA_CHECK_LAUNCH("cross_entropy_backward_kernel");
  });
}

void count_correct(const Stream& s, const CountCorrectArgs& a) {
  OpScope scope(s, "cuda.count_correct");
  check_rows(a.scores, "count_correct");
  const int64_t n = a.scores.dim(0), k = a.scores.dim(1);
  check_target(a.target, n, "count_correct");
  SPRINT_CHECK(a.correct.numel() == 1 && a.correct.dtype() == DType::kI64,
               "count_correct: the counter must be a 0-d i64 tensor, got {}", a.correct.description());
  if (n == 0) return;
  static_assert(sizeof(unsigned long long) == sizeof(int64_t), "atomicAdd on the i64 counter");
  dispatch_floating(a.scores.dtype(), "count_correct", [&](auto tag) {
    using T = typename decltype(tag)::type;
    count_correct_kernel<T><<<blocks_for(n, kRowsPerBlock), kRowThreads, 0, scope.stream()>>>(
        ptr<const T>(a.scores), ptr<const int32_t>(a.target), n, k,
        static_cast<unsigned long long*>(a.correct.data()));
    SPRINT_CUDA_CHECK_LAUNCH("count_correct_kernel");
  });
}

}  // namespace sprint::cuda
