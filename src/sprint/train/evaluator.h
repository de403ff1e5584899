// evaluator.h: Evaluator, a model's evaluation pass over a batch source: logits (optionally with airbench94's
// test-time augmentation), loss and accuracy summed on the device and read once at the end.
#pragma once

#include <cstdint>
#include <functional>

#include "sprint/data/batch_source.h"
#include "sprint/nn/models.h"

namespace sprint::train {

struct EvalStats {
  double loss = 0.0;
  double accuracy = 0.0;  ///< fraction in [0, 1]
  int64_t samples = 0;
};

/// The value of a 0-d tensor on any device, as a double (synchronises the stream when it is a GPU's).
double read_scalar(const Stream& stream, const Tensor& t);

/// Weight of a batch's loss in a per-sample sum: the batch size for a mean loss, 1 for a summed one.
double loss_weight(const nn::Loss& loss, int64_t batch_size);

class Evaluator {
 public:
  /// Accumulators on the stream's device; the model must outlive the evaluator.
  Evaluator(const Stream& stream, nn::Model& model);

  /// The logits scored for `inputs` (N, C, H, W) or (N, F): the model's (tta 0), or with tta 1 0.5·(image) +
  /// 0.5·(mirror), with tta 2 0.25·identity + 0.25·mirror + 0.125 each for mirror-or-not × translated by one
  /// pixel (reflect-padded crops at -1,-1 and +1,+1; images only). Valid until the next call.
  Tensor logits(nn::RunContext& ctx, const Tensor& inputs, int tta);
  /// Loss and accuracy over every batch of `source` (epoch 0, in order) with the model in eval mode; the model's
  /// training mode is restored afterwards.
  EvalStats run(nn::RunContext& ctx, data::BatchSource& source, int tta);
  /// What computes the model's logits (default: the model's forward on ctx.stream); a pipeline whose stages
  /// live on several devices runs them in turn (Pipeline::forward). Null: the default.
  using Forward = std::function<Tensor(nn::RunContext& ctx, const Tensor& inputs)>;
  void set_forward(Forward forward) { forward_ = std::move(forward); }

 private:
  nn::Model& model_;
  Forward forward_;
  Tensor loss_sum_, correct_;     // 0-d accumulators on the device
  Tensor tta_view_, tta_logits_;  // TTA: one view of a batch, the weighted logits
};

}  // namespace sprint::train
