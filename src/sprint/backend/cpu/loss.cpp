// loss.cpp (CPU): log-softmax, NLL, fused softmax cross-entropy with label smoothing, correct-prediction count.
// (N, K) rows are short (K = number of classes); these loops are the reference and the fast path at once.
#include "sprint/backend/api/loss.h"

#include <cmath>
#include <limits>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"

namespace sprint::cpu {
namespace {

int32_t checked_target(const int32_t* target, int64_t i, int64_t k) {
  const int32_t t = target[i];
  SPRINT_CHECK(t >= 0 && t < k, "target {} of sample {} is outside [0, {})", t, i, k);
  return t;
}

template <class T>
double row_logsumexp(const T* row, int64_t k) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < k; ++j) m = std::max(m, static_cast<double>(row[j]));
  double s = 0.0;
  for (int64_t j = 0; j < k; ++j) s += std::exp(static_cast<double>(row[j]) - m);
  return m + std::log(s);
}

template <class T>
void write_scalar(const Tensor& t, double value) {
  *t.data_as<float>() = static_cast<float>(value);
}

}  // namespace

void log_softmax_forward(const Stream& stream, const LogSoftmaxForwardArgs& a) {
  if (any_half({&a.x, &a.y})) {
    HalfWidening h(stream);
    log_softmax_forward(stream, {.x = h.in(a.x), .y = h.out(a.y)});
    return h.finish();
  }
  dispatch_floating(a.x.dtype(), "log_softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.x.dim(0), k = a.x.dim(1);
    const T* x = a.x.data_as<T>();
    T* y = a.y.data_as<T>();
    for (int64_t i = 0; i < n; ++i) {
      const double lse = row_logsumexp(x + i * k, k);
      for (int64_t j = 0; j < k; ++j) y[i * k + j] = static_cast<T>(static_cast<double>(x[i * k + j]) - lse);
    }
  });
}

void log_softmax_backward(const Stream& stream, const LogSoftmaxBackwardArgs& a) {
  if (any_half({&a.dy, &a.y, &a.dx})) {
    HalfWidening h(stream);
    log_softmax_backward(stream, {.dy = h.in(a.dy), .y = h.in(a.y), .dx = h.out(a.dx, a.mode), .mode = a.mode});
    return h.finish();
  }
  dispatch_floating(a.dy.dtype(), "log_softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.dy.dim(0), k = a.dy.dim(1);
    const T* dy = a.dy.data_as<T>();
    const T* y = a.y.data_as<T>();
    T* dx = a.dx.data_as<T>();
    const bool acc = a.mode == GradMode::kAccumulate;
    for (int64_t i = 0; i < n; ++i) {
      double sum = 0.0;
      for (int64_t j = 0; j < k; ++j) sum += static_cast<double>(dy[i * k + j]);
      for (int64_t j = 0; j < k; ++j) {
        const double g = static_cast<double>(dy[i * k + j]) - std::exp(static_cast<double>(y[i * k + j])) * sum;
        store(dx[i * k + j], static_cast<T>(g), acc);
      }
    }
  });
}

void nll_loss_forward(const Stream& stream, const NllLossForwardArgs& a) {
  if (any_half({&a.logp})) {
    HalfWidening h(stream);
    return nll_loss_forward(stream,
                            {.logp = h.in(a.logp), .target = a.target, .loss = a.loss, .reduction = a.reduction});
  }
  dispatch_floating(a.logp.dtype(), "nll_loss_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.logp.dim(0), k = a.logp.dim(1);
    const T* logp = a.logp.data_as<T>();
    const int32_t* target = a.target.data_as<int32_t>();
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) total -= static_cast<double>(logp[i * k + checked_target(target, i, k)]);
    if (a.reduction == Reduction::kMean && n > 0) total /= static_cast<double>(n);
    if (a.loss.dtype() == DType::kF64) *a.loss.data_as<double>() = total;
    else write_scalar<float>(a.loss, total);
  });
}

void nll_loss_backward(const Stream& stream, const NllLossBackwardArgs& a) {
  if (any_half({&a.dlogp})) {
    HalfWidening h(stream);
    nll_loss_backward(stream, {.target = a.target,
                               .dlogp = h.out(a.dlogp, a.mode),
                               .reduction = a.reduction,
                               .scale = a.scale,
                               .mode = a.mode});
    return h.finish();
  }
  dispatch_floating(a.dlogp.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.dlogp.dim(0), k = a.dlogp.dim(1);
    const int32_t* target = a.target.data_as<int32_t>();
    T* d = a.dlogp.data_as<T>();
    const double g = -a.scale / (a.reduction == Reduction::kMean && n > 0 ? static_cast<double>(n) : 1.0);
    const bool acc = a.mode == GradMode::kAccumulate;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t t = checked_target(target, i, k);
      for (int64_t j = 0; j < k; ++j) store(d[i * k + j], static_cast<T>(j == t ? g : 0.0), acc);
    }
  });
}

void cross_entropy_forward(const Stream& stream, const CrossEntropyForwardArgs& a) {
  if (any_half({&a.logits, &a.probs})) {
    HalfWidening h(stream);
    cross_entropy_forward(stream, {.logits = h.in(a.logits),
                                   .target = a.target,
                                   .probs = h.out(a.probs),
                                   .loss = a.loss,
                                   .label_smoothing = a.label_smoothing,
                                   .reduction = a.reduction});
    return h.finish();
  }
  dispatch_floating(a.logits.dtype(), "cross_entropy_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.logits.dim(0), k = a.logits.dim(1);
    const T* x = a.logits.data_as<T>();
    T* p = a.probs.data_as<T>();
    const int32_t* target = a.target.data_as<int32_t>();
    const double eps = a.label_smoothing;
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = x + i * k;
      const double lse = row_logsumexp(row, k);
      double sum_neg_logp = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const double logp = static_cast<double>(row[j]) - lse;
        p[i * k + j] = static_cast<T>(std::exp(logp));
        sum_neg_logp -= logp;
      }
      const int32_t t = checked_target(target, i, k);
      const double nll = lse - static_cast<double>(row[t]);
      total += (1.0 - eps) * nll + eps * sum_neg_logp / static_cast<double>(k);
    }
    if (a.reduction == Reduction::kMean && n > 0) total /= static_cast<double>(n);
    if (a.loss.dtype() == DType::kF64) *a.loss.data_as<double>() = total;
    else write_scalar<float>(a.loss, total);
  });
}

void cross_entropy_backward(const Stream& stream, const CrossEntropyBackwardArgs& a) {
  if (any_half({&a.probs, &a.dlogits})) {
    HalfWidening h(stream);
    cross_entropy_backward(stream, {.probs = h.in(a.probs),
                                    .target = a.target,
                                    .dlogits = h.out(a.dlogits, a.mode),
                                    .label_smoothing = a.label_smoothing,
                                    .reduction = a.reduction,
                                    .scale = a.scale,
                                    .mode = a.mode});
    return h.finish();
  }
  dispatch_floating(a.probs.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.probs.dim(0), k = a.probs.dim(1);
    const T* p = a.probs.data_as<T>();
    const int32_t* target = a.target.data_as<int32_t>();
    T* d = a.dlogits.data_as<T>();
    const double eps = a.label_smoothing;
    const double g = a.scale / (a.reduction == Reduction::kMean && n > 0 ? static_cast<double>(n) : 1.0);
    const double off = eps / static_cast<double>(k);
    const bool acc = a.mode == GradMode::kAccumulate;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t t = checked_target(target, i, k);
      for (int64_t j = 0; j < k; ++j) {
        const double q = (j == t ? 1.0 - eps : 0.0) + off;
        store(d[i * k + j], static_cast<T>(g * (static_cast<double>(p[i * k + j]) - q)), acc);
      }
    }
  });
}

void count_correct(const Stream& stream, const CountCorrectArgs& a) {
  if (any_half({&a.scores})) {
    HalfWidening h(stream);
    return count_correct(stream, {.scores = h.in(a.scores), .target = a.target, .correct = a.correct});
  }
  dispatch_floating(a.scores.dtype(), "count_correct", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = a.scores.dim(0), k = a.scores.dim(1);
    const T* s = a.scores.data_as<T>();
    const int32_t* target = a.target.data_as<int32_t>();
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) {
      const T* row = s + i * k;
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j)
        if (row[j] > row[best]) best = j;
      correct += best == target[i];
    }
    *a.correct.data_as<int64_t>() += correct;
  });
}

}  // namespace sprint::cpu
