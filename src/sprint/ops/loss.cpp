// loss.cpp (ops): validation + dispatch for the loss family.
#include "sprint/ops/loss.h"

namespace sprint::ops {
namespace {
template <class Args>
using Fn = void (*)(const Stream&, const Args&);
const BackendTable<Fn<LogSoftmaxForwardArgs>> kLogSoftmaxForward{
    "log_softmax_forward", &cpu::log_softmax_forward, SPRINT_CUDA_IMPL(cuda::log_softmax_forward)};
const BackendTable<Fn<LogSoftmaxBackwardArgs>> kLogSoftmaxBackward{
    "log_softmax_backward", &cpu::log_softmax_backward, SPRINT_CUDA_IMPL(cuda::log_softmax_backward)};
const BackendTable<Fn<NllLossForwardArgs>> kNllForward{"nll_loss_forward", &cpu::nll_loss_forward,
                                                       SPRINT_CUDA_IMPL(cuda::nll_loss_forward)};
const BackendTable<Fn<NllLossBackwardArgs>> kNllBackward{"nll_loss_backward", &cpu::nll_loss_backward,
                                                         SPRINT_CUDA_IMPL(cuda::nll_loss_backward)};
const BackendTable<Fn<CrossEntropyForwardArgs>> kCeForward{"cross_entropy_forward", &cpu::cross_entropy_forward,
                                                           SPRINT_CUDA_IMPL(cuda::cross_entropy_forward)};
const BackendTable<Fn<CrossEntropyBackwardArgs>> kCeBackward{
    "cross_entropy_backward", &cpu::cross_entropy_backward, SPRINT_CUDA_IMPL(cuda::cross_entropy_backward)};
const BackendTable<Fn<CountCorrectArgs>> kCountCorrect{"count_correct", &cpu::count_correct,
                                                       SPRINT_CUDA_IMPL(cuda::count_correct)};

void check_scores(const Tensor& scores, const char* op) {
  SPRINT_CHECK(scores.ndim() == 2, "{}: scores must be 2-D (N, K), got {}", op, scores.description());
  check_floating(scores, op);
}
void check_targets(const Tensor& target, int64_t n, const char* op) {
  SPRINT_CHECK(target.defined() && target.dtype() == DType::kI32, "{}: targets must be i32, got {}", op,
               target.description());
  check_shape(target, {n}, "targets");
}
void check_loss(const Tensor& loss, const char* op) {
  SPRINT_CHECK(loss.defined() && loss.ndim() == 0 && (loss.dtype() == DType::kF32 || loss.dtype() == DType::kF64),
               "{}: loss must be a 0-d f32/f64 tensor, got {}", op, loss.description());
}
}  // namespace

void log_softmax_forward(const Stream& s, const LogSoftmaxForwardArgs& a) {
  check_scores(a.x, "log_softmax_forward");
  check_shape(a.y, a.x.shape(), "log_softmax output");
  check_same_dtype(a.x.dtype(), {&a.y}, "log_softmax_forward");
  check_on_stream_device(s, {&a.x, &a.y}, "log_softmax_forward");
  check_contiguous({&a.x, &a.y}, "log_softmax_forward");
  kLogSoftmaxForward.select(s.device())(s, a);
}

void log_softmax_backward(const Stream& s, const LogSoftmaxBackwardArgs& a) {
  check_scores(a.y, "log_softmax_backward");
  check_shape(a.dy, a.y.shape(), "log_softmax dy");
  check_shape(a.dx, a.y.shape(), "log_softmax dx");
  check_same_dtype(a.y.dtype(), {&a.dy, &a.dx}, "log_softmax_backward");
  check_on_stream_device(s, {&a.dy, &a.y, &a.dx}, "log_softmax_backward");
  check_contiguous({&a.dy, &a.y, &a.dx}, "log_softmax_backward");
  kLogSoftmaxBackward.select(s.device())(s, a);
}

void nll_loss_forward(const Stream& s, const NllLossForwardArgs& a) {
  check_scores(a.logp, "nll_loss_forward");
  check_targets(a.target, a.logp.dim(0), "nll_loss_forward");
  check_loss(a.loss, "nll_loss_forward");
  check_on_stream_device(s, {&a.logp, &a.target, &a.loss}, "nll_loss_forward");
  check_contiguous({&a.logp, &a.target}, "nll_loss_forward");
  kNllForward.select(s.device())(s, a);
}

void nll_loss_backward(const Stream& s, const NllLossBackwardArgs& a) {
  check_scores(a.dlogp, "nll_loss_backward");
  check_targets(a.target, a.dlogp.dim(0), "nll_loss_backward");
  check_on_stream_device(s, {&a.dlogp, &a.target}, "nll_loss_backward");
  check_contiguous({&a.dlogp, &a.target}, "nll_loss_backward");
  kNllBackward.select(s.device())(s, a);
}

void cross_entropy_forward(const Stream& s, const CrossEntropyForwardArgs& a) {
  check_scores(a.logits, "cross_entropy_forward");
  check_targets(a.target, a.logits.dim(0), "cross_entropy_forward");
  check_shape(a.probs, a.logits.shape(), "cross_entropy probs");
  check_same_dtype(a.logits.dtype(), {&a.probs}, "cross_entropy_forward");
  check_loss(a.loss, "cross_entropy_forward");
  SPRINT_CHECK(a.label_smoothing >= 0.0 && a.label_smoothing <= 1.0, "label smoothing must be in [0, 1], got {}",
               a.label_smoothing);
  check_on_stream_device(s, {&a.logits, &a.target, &a.probs, &a.loss}, "cross_entropy_forward");
  check_contiguous({&a.logits, &a.target, &a.probs}, "cross_entropy_forward");
  kCeForward.select(s.device())(s, a);
}

void cross_entropy_backward(const Stream& s, const CrossEntropyBackwardArgs& a) {
  check_scores(a.probs, "cross_entropy_backward");
  check_targets(a.target, a.probs.dim(0), "cross_entropy_backward");
  check_shape(a.dlogits, a.probs.shape(), "cross_entropy dlogits");
  check_on_stream_device(s, {&a.probs, &a.target, &a.dlogits}, "cross_entropy_backward");
  check_contiguous({&a.probs, &a.target, &a.dlogits}, "cross_entropy_backward");
  kCeBackward.select(s.device())(s, a);
}

void count_correct(const Stream& s, const CountCorrectArgs& a) {
  check_scores(a.scores, "count_correct");
  check_targets(a.target, a.scores.dim(0), "count_correct");
  SPRINT_CHECK(a.correct.defined() && a.correct.ndim() == 0 && a.correct.dtype() == DType::kI64,
               "count_correct: the counter must be a 0-d i64 tensor");
  check_on_stream_device(s, {&a.scores, &a.target, &a.correct}, "count_correct");
  check_contiguous({&a.scores, &a.target}, "count_correct");
  kCountCorrect.select(s.device())(s, a);
}

}  // namespace sprint::ops
