// loss.cpp: NllLoss and CrossEntropyLoss.
#include "sprint/nn/loss.h"

#include "sprint/ops/loss.h"

namespace sprint::nn {
namespace {
enum BufferId { kLoss, kInputGrad, kProbs };
const char* reduction_name(Reduction r) { return r == Reduction::kMean ? "mean" : "sum"; }
// The loss is f32 except for f64 inputs (gradient checks need the full precision).
DType loss_dtype(const Tensor& input) { return input.dtype() == DType::kF64 ? DType::kF64 : DType::kF32; }
}  // namespace

std::string NllLoss::describe() const { return fmt::format("NllLoss(reduction={})", reduction_name(reduction_)); }

Tensor NllLoss::forward(RunContext& ctx, const Tensor& logp, const Tensor& target) {
  Tensor loss = workspace_.get(ctx.stream, ctx.buffers, kLoss, {}, loss_dtype(logp));
  ops::nll_loss_forward(ctx.stream, {.logp = logp, .target = target, .loss = loss, .reduction = reduction_});
  saved_.at(ctx.buffers) = {logp, target};
  return loss;
}

Tensor NllLoss::backward(RunContext& ctx, double scale) {
  const Saved s = take_saved(ctx, saved_, "NllLoss");
  Tensor d = workspace_.get(ctx.stream, ctx.buffers, kInputGrad, s.logp.shape(), s.logp.dtype());
  ops::nll_loss_backward(ctx.stream, {.target = s.target, .dlogp = d, .reduction = reduction_, .scale = scale});
  return d;
}

CrossEntropyLoss::CrossEntropyLoss(double label_smoothing, Reduction reduction)
    : label_smoothing_(label_smoothing), reduction_(reduction) {
  SPRINT_CHECK(label_smoothing >= 0.0 && label_smoothing < 1.0, "label smoothing must be in [0, 1), got {}",
               label_smoothing);
}

std::string CrossEntropyLoss::describe() const {
  return fmt::format("CrossEntropyLoss(label_smoothing={}, reduction={})", label_smoothing_,
                     reduction_name(reduction_));
}

Tensor CrossEntropyLoss::forward(RunContext& ctx, const Tensor& logits, const Tensor& target) {
  Tensor loss = workspace_.get(ctx.stream, ctx.buffers, kLoss, {}, loss_dtype(logits));
  Tensor probs = workspace_.get(ctx.stream, ctx.buffers, kProbs, logits.shape(), logits.dtype());
  ops::cross_entropy_forward(ctx.stream, {.logits = logits,
                                          .target = target,
                                          .probs = probs,
                                          .loss = loss,
                                          .label_smoothing = label_smoothing_,
                                          .reduction = reduction_});
  saved_.at(ctx.buffers) = {probs, target};
  return loss;
}

Tensor CrossEntropyLoss::backward(RunContext& ctx, double scale) {
  const Saved s = take_saved(ctx, saved_, "CrossEntropyLoss");
  Tensor d = workspace_.get(ctx.stream, ctx.buffers, kInputGrad, s.probs.shape(), s.probs.dtype());
  ops::cross_entropy_backward(ctx.stream, {.probs = s.probs,
                                           .target = s.target,
                                           .dlogits = d,
                                           .label_smoothing = label_smoothing_,
                                           .reduction = reduction_,
                                           .scale = scale});
  return d;
}

}  // namespace sprint::nn
