// weight_versions.h: which weights a pipeline stage's forward and backward passes run with under each weight
// policy: the current ones (none), the version its forward used (stash: PipeDream's weight stashing), or a
// prediction of the weights in effect when the mini-batch completes (SpecTrain). GPipe's sync policy needs
// none of this (no pass ever sees a stale version).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sprint/nn/buffer_key.h"
#include "sprint/nn/parameter.h"
#include "sprint/optim/optimizer.h"
#include "sprint/runtime/stream.h"
#include "sprint/train/pipeline_schedule.h"

namespace sprint::train {

enum class WeightPolicy {
  kNone,       ///< 1F1B, weights updated in place: a forward and its backward may see different versions
  kStash,      ///< 1F1B, each in-flight mini-batch's backward runs with the weights its forward used
  kSpecTrain,  ///< 1F1B, passes run with predicted weights Ŵ = W - s·lr·v (pipeline_schedule.h)
  kSync,       ///< GPipe: micro-batches, flush, one update per mini-batch; exact
};
/// "none" / "stash" / "spectrain" / "sync"
const char* weight_policy_name(WeightPolicy policy);
/// The policy named `name`; InvalidArgument listing the names otherwise.
WeightPolicy parse_weight_policy(std::string_view name);

/// SpecTrain's prediction of a parameter's value s updates ahead under momentum SGD: the next update is
/// estimated as the velocity the next step would have if its gradient equalled the last one (v' = momentum·v
/// + g), so Ŵ = W - s·lr·(momentum·v + g), written into `out` (shaped and laid out like `value`). Weight
/// decay is left out of the prediction. Without a velocity yet (before the first step) v counts as 0.
void predict_weight(const Stream& stream, const Tensor& value, const Tensor& velocity,
                    const Tensor& last_grad, double lr, double momentum, int64_t updates_ahead,
                    const Tensor& out);

/// The weight versions of one stage: its trainable parameters, optimizer and policy. Each pass is bracketed
/// by begin_* / end_*; the stage's optimizer step follows end_backward.
class StageWeights {
 public:
  StageWeights(std::vector<nn::ParameterPtr> params, optim::Optimizer& optimizer, WeightPolicy policy,
               VersionDifference spectrain);

  /// Before the forward of `key`'s mini-batch: stash a copy of the weights, or put the predicted weights in
  /// place.
  void begin_forward(const Stream& stream, nn::BufferKey key);
  /// After it: the current weights back in place (SpecTrain).
  void end_forward(const Stream& stream);
  /// Before the backward of `key`: the stashed version (stash) or the prediction (SpecTrain) in place.
  void begin_backward(const Stream& stream, nn::BufferKey key);
  /// After it, before the optimizer step: the current weights back in place.
  void end_backward(const Stream& stream);
  /// After the stage's optimizer step: one more version.
  void count_update() { ++version_; }
  /// A resumed run: the stage has already applied `updates` updates (SpecTrain predicts only after the first).
  void set_version(int64_t updates) { version_ = updates; }

  /// Updates applied since the forward of `key` (its measured staleness, read at its backward).
  int64_t versions_since_forward(nn::BufferKey key) const;
  int64_t version() const { return version_; }

  /// Prediction quality, sampled on some forwards (SpecTrain): ‖Ŵ - W_target‖ / ‖W_target‖ and
  /// ‖Ŵ - W_target‖ / ‖W_unpredicted - W_target‖, where W_target is the version the prediction aimed at, once
  /// the stage reaches it. Means over the samples; 0 samples: none measured yet.
  struct PredictionError {
    double relative = 0.0;
    double against_unpredicted = 0.0;
    int64_t samples = 0;
  };
  PredictionError prediction_error() const;
  /// Call after count_update(): completes a pending sample whose target version is reached.
  void check_prediction_sample(const Stream& stream);

 private:
  /// Copies the parameters' values into `copies` (made on first use) / back from them.
  void copy_values_to(const Stream& stream, std::vector<Tensor>& copies) const;
  void copy_values_from(const Stream& stream, const std::vector<Tensor>& copies) const;
  void keep_current(const Stream& stream);  // saves the current weights into current_
  void restore_current(const Stream& stream);
  void put_prediction(const Stream& stream, int64_t updates_ahead);

  std::vector<nn::ParameterPtr> params_;
  optim::Optimizer& optimizer_;
  WeightPolicy policy_;
  VersionDifference spectrain_;
  std::vector<Tensor> current_;               // the true weights while a pass runs with others
  std::vector<Tensor> predicted_masters_;     // mixed precision: f32 predictions, rounded into the values
  std::vector<Tensor*> velocities_;           // SGD's momentum buffers (SpecTrain), per parameter
  nn::PerBuffer<std::vector<Tensor>> stash_;  // weights of each in-flight mini-batch (stash)
  nn::PerBuffer<int64_t> forward_version_;    // version at each in-flight mini-batch's forward
  int64_t version_ = 0;
  bool swapped_ = false;

  struct Sample {
    int64_t target_version = -1;  // -1: none pending
    std::vector<std::vector<float>> predicted, unpredicted;
  };
  Sample sample_;
  int64_t forwards_ = 0;
  double sum_relative_ = 0.0, sum_against_unpredicted_ = 0.0;
  int64_t samples_ = 0;
};

}  // namespace sprint::train
