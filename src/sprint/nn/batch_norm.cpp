// batch_norm.cpp: BatchNorm2d layer over ops::batch_norm_*.
#include "sprint/nn/batch_norm.h"

#include "sprint/backend/api/norm.h"
#include "sprint/nn/init.h"
#include "sprint/nn/replica_sum.h"
#include "sprint/ops/norm.h"
#include "sprint/ops/norm_sums.h"

namespace sprint::nn {
namespace {
enum BufferId { kOutput, kInputGrad, kMean, kInvStd, kVar, kSums, kBackwardSums };

Tensor host_constant(int64_t n, DType dtype, double value) {
  Tensor t = Tensor::empty({n}, dtype);
  init::constant(t, value);
  return t;
}
}  // namespace

BatchNorm2d::BatchNorm2d(const BatchNormOptions& o) : options_(o) {
  SPRINT_CHECK(o.num_features > 0, "BatchNorm2d needs a positive number of features, got {}", o.num_features);
  SPRINT_CHECK(o.eps > 0.0 && o.momentum >= 0.0 && o.momentum <= 1.0,
               "BatchNorm2d needs eps > 0 and momentum in [0, 1], got {} and {}", o.eps, o.momentum);
  const DType pt = norm_param_dtype(o.dtype);
  if (o.affine && o.trainable_scale)
    gamma_ = add_parameter(std::make_shared<Parameter>("weight", host_constant(o.num_features, pt, 1.0)));
  if (o.affine)
    beta_ = add_parameter(std::make_shared<Parameter>("bias", host_constant(o.num_features, pt, 0.0)));
  if (o.track_running_stats) {
    running_mean_ = host_constant(o.num_features, pt, 0.0);
    running_var_ = host_constant(o.num_features, pt, 1.0);
    add_buffer("running_mean", &running_mean_);
    add_buffer("running_var", &running_var_);
    add_counter("num_batches_tracked", &num_batches_tracked_);
  }
}

std::string BatchNorm2d::describe() const {
  const BatchNormOptions& o = options_;
  return fmt::format("BatchNorm2d({}, eps {}, momentum {}{}{}{})", o.num_features, o.eps, o.momentum,
                     gamma_ ? ", scale" : "", beta_ ? ", shift" : "",
                     o.track_running_stats ? "" : ", no running stats");
}

Shape BatchNorm2d::output_shape(const Shape& input) const {
  SPRINT_CHECK(input.size() == 4 && input[1] == options_.num_features, "{} expects (N, {}, H, W), got {}",
               describe(), options_.num_features, input.to_string());
  return input;
}

Tensor BatchNorm2d::forward(RunContext& ctx, const Tensor& x) {
  output_shape(x.shape());
  const int64_t c = options_.num_features;
  const DType pt = norm_param_dtype(x.dtype());
  Tensor y = output_buffer(ctx, kOutput, x.shape(), x.dtype(), x.memory_format());
  Saved s;
  s.x = x;
  s.mean = workspace_.get(ctx.stream, ctx.buffers, kMean, {c}, pt);
  s.invstd = workspace_.get(ctx.stream, ctx.buffers, kInvStd, {c}, pt);
  const Tensor& gamma = gamma_ ? gamma_->value() : kNoTensor;
  const Tensor& beta = beta_ ? beta_->value() : kNoTensor;
  // Without running statistics, eval mode also normalises with the batch (as PyTorch does).
  s.batch_stats = training() || !options_.track_running_stats;
  s.synchronised = training() && ctx.replica_sum != nullptr;
  if (s.synchronised) {
    // The job's batch statistics: this replica's sums, added over the replicas, then normalise with them.
    const bool update = options_.track_running_stats;
    if (update) ++num_batches_tracked_;
    const Tensor sums = workspace_.get(ctx.stream, ctx.buffers, kSums, {2 * c + 1}, DType::kF64);
    const Tensor var = workspace_.get(ctx.stream, ctx.buffers, kVar, {c}, pt);
    ops::batch_norm_sums(ctx.stream, {.x = x, .sums = sums});
    ctx.replica_sum->sum(ctx.stream, sums);
    ops::batch_norm_statistics(ctx.stream, {.sums = sums,
                                            .mean = s.mean,
                                            .var = var,
                                            .running_mean = update ? running_mean_ : kNoTensor,
                                            .running_var = update ? running_var_ : kNoTensor,
                                            .momentum = options_.momentum});
    ops::batch_norm_forward_inference(ctx.stream, {.x = x,
                                                   .gamma = gamma,
                                                   .beta = beta,
                                                   .y = y,
                                                   .running_mean = s.mean,
                                                   .running_var = var,
                                                   .save_mean = kNoTensor,
                                                   .save_invstd = s.invstd,
                                                   .eps = options_.eps});
  } else if (s.batch_stats) {
    const bool update = training() && options_.track_running_stats;
    if (update) ++num_batches_tracked_;
    ops::batch_norm_forward_training(ctx.stream, {.x = x,
                                                  .gamma = gamma,
                                                  .beta = beta,
                                                  .y = y,
                                                  .running_mean = update ? running_mean_ : kNoTensor,
                                                  .running_var = update ? running_var_ : kNoTensor,
                                                  .save_mean = s.mean,
                                                  .save_invstd = s.invstd,
                                                  .eps = options_.eps,
                                                  .momentum = options_.momentum});
  } else {
    ops::batch_norm_forward_inference(ctx.stream, {.x = x,
                                                   .gamma = gamma,
                                                   .beta = beta,
                                                   .y = y,
                                                   .running_mean = running_mean_,
                                                   .running_var = running_var_,
                                                   .save_mean = s.mean,
                                                   .save_invstd = s.invstd,
                                                   .eps = options_.eps});
  }
  saved_.at(ctx.buffers) = std::move(s);
  return y;
}

Tensor BatchNorm2d::backward(RunContext& ctx, const Tensor& dy) {
  const Saved s = take_saved(ctx, saved_, "BatchNorm2d");
  const bool train_g = gamma_ && gamma_->trainable();
  const bool train_b = beta_ && beta_->trainable();
  const bool want_dx = needs_input_grad();
  if (!train_g && !train_b && !want_dx) return Tensor();
  const GradMode g_mode = train_g ? gamma_->take_grad_mode() : GradMode::kOverwrite;
  const GradMode b_mode = train_b ? beta_->take_grad_mode() : GradMode::kOverwrite;
  Tensor dx = want_dx ? gradient_buffer(ctx, kInputGrad, s.x.shape(), s.x.dtype(),
                                       s.x.memory_format())
                      : Tensor();
  const bool split = train_g && train_b && g_mode != b_mode;  // parameters shared with different histories
  if (s.synchronised) {
    backward_synchronised(ctx, dy, s, dx, g_mode, b_mode, split);
    return dx;
  }
  ops::batch_norm_backward(ctx.stream, {.dy = dy,
                                        .x = s.x,
                                        .gamma = gamma_ ? gamma_->value() : kNoTensor,
                                        .save_mean = s.mean,
                                        .save_invstd = s.invstd,
                                        .dx = dx,
                                        .dgamma = train_g ? gamma_->grad() : kNoTensor,
                                        .dbeta = train_b && !split ? beta_->grad() : kNoTensor,
                                        .use_batch_stats = s.batch_stats,
                                        .param_mode = train_g ? g_mode : b_mode});
  if (split) {
    ops::batch_norm_backward(ctx.stream, {.dy = dy,
                                          .x = s.x,
                                          .gamma = gamma_->value(),
                                          .save_mean = s.mean,
                                          .save_invstd = s.invstd,
                                          .dx = kNoTensor,
                                          .dgamma = kNoTensor,
                                          .dbeta = beta_->grad(),
                                          .use_batch_stats = s.batch_stats,
                                          .param_mode = b_mode});
  }
  return dx;
}

// The job's gradient through synchronised statistics: this replica's sums give its own dγ and dβ (averaged over
// the replicas with the other gradients), and the sums added over the replicas give dx.
void BatchNorm2d::backward_synchronised(RunContext& ctx, const Tensor& dy, const Saved& s, const Tensor& dx,
                                        GradMode g_mode, GradMode b_mode, bool split) {
  const bool train_g = gamma_ && gamma_->trainable();
  const bool train_b = beta_ && beta_->trainable();
  const Tensor sums =
      workspace_.get(ctx.stream, ctx.buffers, kBackwardSums, {2 * options_.num_features + 1}, DType::kF64);
  const BatchNormBackwardSumsArgs args{.dy = dy,
                                       .x = s.x,
                                       .save_mean = s.mean,
                                       .save_invstd = s.invstd,
                                       .sums = sums,
                                       .dgamma = train_g ? gamma_->grad() : kNoTensor,
                                       .dbeta = train_b && !split ? beta_->grad() : kNoTensor,
                                       .param_mode = train_g ? g_mode : b_mode};
  ops::batch_norm_backward_sums(ctx.stream, args);
  if (split) {  // dβ with its own mode (the sums come out the same)
    ops::batch_norm_backward_sums(ctx.stream, {.dy = dy,
                                               .x = s.x,
                                               .save_mean = s.mean,
                                               .save_invstd = s.invstd,
                                               .sums = sums,
                                               .dgamma = kNoTensor,
                                               .dbeta = beta_->grad(),
                                               .param_mode = b_mode});
  }
  if (!dx.defined()) return;
  ctx.replica_sum->sum(ctx.stream, sums);
  ops::batch_norm_input_grad(ctx.stream, {.dy = dy,
                                          .x = s.x,
                                          .gamma = gamma_ ? gamma_->value() : kNoTensor,
                                          .save_mean = s.mean,
                                          .save_invstd = s.invstd,
                                          .sums = sums,
                                          .dx = dx});
}

}  // namespace sprint::nn
