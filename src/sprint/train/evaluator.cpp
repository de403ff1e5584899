// evaluator.cpp: evaluation passes and airbench94's test-time augmentation (see evaluator.h).
#include "sprint/train/evaluator.h"

#include <algorithm>
#include <limits>
#include <span>

#include "sprint/ops/augment.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/loss.h"
#include "sprint/runtime/device_context.h"

namespace sprint::train {
double read_scalar(const Stream& stream, const Tensor& t) { return ops::to_host(stream, t).to_vector<double>()[0]; }

double loss_weight(const nn::Loss& loss, int64_t batch_size) {
  switch (loss.reduction()) {
    case Reduction::kMean: return static_cast<double>(batch_size);
    case Reduction::kSum: return 1.0;
  }
  return static_cast<double>(batch_size);
}

namespace {
constexpr int64_t kCpuEvalChunk = 256;
}  // namespace

Evaluator::Evaluator(const Stream& stream, nn::Model& model) : model_(model) {
  loss_sum_ = ops::zeros(stream, {}, DType::kF32);
  correct_ = ops::zeros(stream, {}, DType::kI64);
}

Tensor Evaluator::logits(nn::RunContext& ctx, const Tensor& inputs, int tta) {
  auto forward = [&](const Tensor& x) { return forward_ ? forward_(ctx, x) : model_.net->forward(ctx, x); };
  if (tta == 0) return forward(inputs);
  // airbench94's infer_mirror / infer_mirror_translate: (shift in both axes, mirror, weight) per view.
  struct View {
    int shift;
    bool flip;
    double weight;
  };
  static constexpr View kMirror[] = {{0, false, 0.5}, {0, true, 0.5}};
  static constexpr View kMirrorTranslate[] = {{0, false, 0.25},  {0, true, 0.25}, {-1, false, 0.125},
                                              {-1, true, 0.125}, {1, false, 0.125}, {1, true, 0.125}};
  const std::span<const View> views = tta == 1 ? std::span<const View>(kMirror) : kMirrorTranslate;
  const int64_t rows = inputs.dim(0);
  Allocator& allocator = ctx.stream.allocator();
  if (!tta_view_.defined() || tta_view_.dim(0) < rows || tta_view_.dtype() != inputs.dtype())
    tta_view_ = Tensor::empty(inputs.shape(), inputs.dtype(), allocator, inputs.memory_format());
  const Tensor view = tta_view_.rows(0, rows);
  Tensor sum;
  for (const View& v : views) {
    const bool identity = v.shift == 0 && !v.flip;
    if (!identity)
      ops::translate_flip(ctx.stream, {.x = inputs, .out = view, .shift_y = v.shift, .shift_x = v.shift, .flip = v.flip});
    const Tensor logits = forward(identity ? inputs : view);
    if (!sum.defined()) {
      Shape shape = logits.shape();
      shape[0] = std::max(rows, tta_logits_.defined() ? tta_logits_.dim(0) : int64_t{0});
      if (!tta_logits_.defined() || tta_logits_.shape() != shape || tta_logits_.dtype() != logits.dtype())
        tta_logits_ = Tensor::empty(shape, logits.dtype(), allocator);
      sum = tta_logits_.rows(0, rows);
      // sum = weight · logits (b is logits itself with beta 0: sum's old contents are never read).
      ops::axpby(ctx.stream, {.a = logits, .b = logits, .out = sum, .alpha = v.weight, .beta = 0.0});
    } else {
      ops::axpby(ctx.stream, {.a = logits, .b = sum, .out = sum, .alpha = v.weight, .beta = 1.0});
    }
  }
  return sum;
}

EvalStats Evaluator::run(nn::RunContext& ctx, data::BatchSource& source, int tta) {
  SPRINT_CHECK(tta >= 0 && tta <= 2, "test-time augmentation level must be 0, 1 or 2, got {}", tta);
  nn::Module& net = *model_.net;
  nn::Loss& loss = *model_.loss;
  const bool was_training = net.training();
  net.eval();
  source.start_epoch(0);
  ops::fill(ctx.stream, loss_sum_, 0.0);
  ops::fill(ctx.stream, correct_, 0.0);
  int64_t samples = 0;
  // Evaluation is per sample (BatchNorm uses its running statistics), so a large evaluation batch runs in chunks
  // of at most kCpuEvalChunk rows on the CPU: the layers' buffers then hold a chunk's activations, not the batch's
  // (airbench94 evaluates 2000 images at a time). Accuracy is unchanged; the loss sum only adds in another order.
  const int64_t chunk = ctx.stream.device().is_cpu() ? kCpuEvalChunk : std::numeric_limits<int64_t>::max();
  while (std::optional<data::Batch> batch = source.next()) {
    for (int64_t first = 0; first < batch->size; first += chunk) {
      const int64_t n = std::min(chunk, batch->size - first);
      const bool whole = n == batch->size;
      const Tensor inputs = whole ? batch->inputs : batch->inputs.rows(first, n);
      const Tensor labels = whole ? batch->labels : batch->labels.rows(first, n);
      const Tensor scores = logits(ctx, inputs, tta);
      const Tensor batch_loss = loss.forward(ctx, scores, labels);
      ops::axpby(ctx.stream, {.a = batch_loss, .b = loss_sum_, .out = loss_sum_, .alpha = loss_weight(loss, n)});
      ops::count_correct(ctx.stream, {.scores = scores, .target = labels, .correct = correct_});
    }
    samples += batch->size;
  }
  net.train(was_training);
  EvalStats e;
  e.samples = samples;
  if (samples > 0) {
    e.loss = read_scalar(ctx.stream, loss_sum_) / static_cast<double>(samples);
    e.accuracy = read_scalar(ctx.stream, correct_) / static_cast<double>(samples);
  }
  return e;
}

}  // namespace sprint::train
