// pipeline_schedule.cpp: 1F1B and fill-drain orders, SpecTrain's version differences, the 1F1B simulation.
#include "sprint/train/pipeline_schedule.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "sprint/core/error.h"

namespace sprint::train {
namespace {

void check_stage(int stage, int stages) {
  SPRINT_CHECK(stages >= 1, "a pipeline needs at least one stage, got {}", stages);
  SPRINT_CHECK(stage >= 0 && stage < stages, "stage {} is outside 0..{}", stage, stages - 1);
}

}  // namespace

const char* pipeline_pass_name(PipelinePass pass) {
  switch (pass) {
    case PipelinePass::kForward:
      return "forward";
    case PipelinePass::kBackward:
      return "backward";
  }
  return "?";
}

std::vector<PipelineOp> one_f_one_b_order(int stage, int stages, int64_t mini_batches) {
  check_stage(stage, stages);
  SPRINT_CHECK(mini_batches >= 0, "negative mini-batch count {}", mini_batches);
  std::vector<PipelineOp> order;
  order.reserve(static_cast<size_t>(2 * mini_batches));
  int64_t forwards = 0, backwards = 0;
  const int64_t warm_up = std::min<int64_t>(stages - stage - 1, mini_batches);
  for (; forwards < warm_up; ++forwards) order.push_back({PipelinePass::kForward, forwards});
  while (backwards < mini_batches) {
    if (forwards < mini_batches) order.push_back({PipelinePass::kForward, forwards++});
    order.push_back({PipelinePass::kBackward, backwards++});
  }
  return order;
}

std::vector<PipelineOp> fill_drain_order(int stage, int stages, int64_t micro_batches) {
  check_stage(stage, stages);
  SPRINT_CHECK(micro_batches >= 1, "fill-drain needs at least one micro-batch, got {}", micro_batches);
  std::vector<PipelineOp> order;
  order.reserve(static_cast<size_t>(2 * micro_batches));
  for (int64_t m = 0; m < micro_batches; ++m) order.push_back({PipelinePass::kForward, m});
  for (int64_t m = micro_batches - 1; m >= 0; --m) order.push_back({PipelinePass::kBackward, m});
  return order;
}

VersionDifference spectrain_version_difference(int stage, int stages) {
  check_stage(stage, stages);
  const int64_t travel = stage / 2;  // updates while the gradient travels back to stage 0
  return {.forward = travel + stages - stage - 1, .backward = travel};
}

std::vector<SimulatedStage> simulate_one_f_one_b(int stages, int64_t mini_batches, double forward_time,
                                                 double backward_time) {
  SPRINT_CHECK(stages >= 1 && mini_batches >= 0, "simulate_one_f_one_b: {} stages, {} mini-batches", stages,
               mini_batches);
  SPRINT_CHECK(forward_time > 0.0 && backward_time > 0.0, "pass durations must be positive, got {} and {}",
               forward_time, backward_time);
  struct Times {
    double start = 0.0, end = 0.0;
  };
  using Key = std::pair<int, int64_t>;  // (stage, mini-batch)
  std::map<Key, Times> forward, backward;
  std::vector<std::vector<PipelineOp>> orders;
  for (int k = 0; k < stages; ++k) orders.push_back(one_f_one_b_order(k, stages, mini_batches));
  std::vector<size_t> next(static_cast<size_t>(stages), 0);
  std::vector<double> free_at(static_cast<size_t>(stages), 0.0);
  size_t remaining = 0;
  for (const auto& o : orders) remaining += o.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int k = 0; k < stages; ++k) {
      const auto& order = orders[static_cast<size_t>(k)];
      size_t& at = next[static_cast<size_t>(k)];
      if (at == order.size()) continue;
      const PipelineOp op = order[at];
      std::optional<double> ready;  // when the pass's input exists
      switch (op.pass) {
        case PipelinePass::kForward:
          if (k == 0) {
            ready = 0.0;
          } else if (auto it = forward.find({k - 1, op.mini_batch}); it != forward.end()) {
            ready = it->second.end;
          }
          break;
        case PipelinePass::kBackward: {
          const auto& from = k == stages - 1 ? forward : backward;
          if (auto it = from.find({k == stages - 1 ? k : k + 1, op.mini_batch}); it != from.end())
            ready = it->second.end;
          break;
        }
      }
      if (!ready) continue;
      const double start = std::max(*ready, free_at[static_cast<size_t>(k)]);
      const bool is_forward = op.pass == PipelinePass::kForward;
      const double end = start + (is_forward ? forward_time : backward_time);
      (is_forward ? forward : backward)[{k, op.mini_batch}] = {start, end};
      free_at[static_cast<size_t>(k)] = end;
      ++at;
      --remaining;
      progressed = true;
    }
    SPRINT_ASSERT(progressed, "the 1F1B order deadlocked in simulation");
  }
  std::vector<SimulatedStage> result(static_cast<size_t>(stages));
  for (int k = 0; k < stages; ++k) {
    SimulatedStage& s = result[static_cast<size_t>(k)];
    for (int64_t i = 0; i < mini_batches; ++i) {
      const Times f = forward.at({k, i}), b = backward.at({k, i});
      const double done = backward.at({0, i}).end;
      int64_t before_backward = 0, before_completion = 0;
      for (int64_t j = 0; j < mini_batches; ++j) {
        if (j == i) continue;
        const double update = backward.at({k, j}).end;  // stage k's update with mini-batch j's gradient
        if (update > f.start && update <= b.start) ++before_backward;
        if (update > b.end && update <= done) ++before_completion;
      }
      s.forward_to_backward.push_back(before_backward);
      s.backward_to_completion.push_back(before_completion);
    }
  }
  return result;
}

}  // namespace sprint::train
