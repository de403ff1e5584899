// pipeline_schedule.h: the order in which each stage of a K-stage pipeline runs its passes (asynchronous
// 1F1B, and GPipe's fill-and-drain), SpecTrain's version differences, and a discrete-event simulation of the
// 1F1B schedule that counts the weight versions each mini-batch sees (the staleness the version differences
// predict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sprint::train {

/// The two passes a stage runs for a mini-batch.
enum class PipelinePass { kForward, kBackward };
/// "forward" / "backward"
const char* pipeline_pass_name(PipelinePass pass);

/// One pass of one mini-batch (or micro-batch) on one stage.
struct PipelineOp {
  PipelinePass pass;
  int64_t mini_batch;
  bool operator==(const PipelineOp&) const = default;
};

/// Asynchronous 1F1B (PipeDream's steady state, no flush): stage k of K runs min(K - k - 1, n) warm-up
/// forwards, then alternates the forward of the next mini-batch with the backward of the oldest one, then
/// drains the remaining backwards. Each backward is followed by that stage's optimizer step: every mini-batch
/// updates every stage once.
std::vector<PipelineOp> one_f_one_b_order(int stage, int stages, int64_t mini_batches);

/// GPipe's synchronous order for one mini-batch of `micro_batches`: every forward in order, then every
/// backward in reverse order; the stage accumulates the gradients and steps once after the last backward.
std::vector<PipelineOp> fill_drain_order(int stage, int stages, int64_t micro_batches);

/// SpecTrain's version differences s at stage k of K (the paper's variant): the number of updates stage k
/// applies between a pass of a mini-batch and that mini-batch's completion (its backward at stage 0), with
/// equal forward and backward durations. Forward: K - k - 1 updates before its own backward at stage k, plus
/// ⌊k/2⌋ while its gradient travels back to stage 0; backward: ⌊k/2⌋. The pass predicts Ŵ = W - s·lr·v.
struct VersionDifference {
  int64_t forward = 0;
  int64_t backward = 0;
};
VersionDifference spectrain_version_difference(int stage, int stages);

/// Per stage and mini-batch, what a simulation of one_f_one_b_order counted: the updates of other
/// mini-batches that stage applied between the start of its forward and the start of its backward of the
/// mini-batch, and between the end of its backward and the end of the mini-batch's backward at stage 0.
struct SimulatedStage {
  std::vector<int64_t> forward_to_backward;
  std::vector<int64_t> backward_to_completion;
};

/// Runs one_f_one_b_order on K stages as a discrete-event simulation: each stage runs its passes in order,
/// each as soon as the stage is free and its input exists (a forward needs the previous stage's forward of
/// the mini-batch, a backward the next stage's backward, the last stage's backward its own forward); passes
/// take `forward_time` and `backward_time`.
std::vector<SimulatedStage> simulate_one_f_one_b(int stages, int64_t mini_batches, double forward_time,
                                                 double backward_time);

}  // namespace sprint::train
