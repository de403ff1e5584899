// sparse_run.h: what `sprint train --mask` adds to a run: the update masks (from an epoch on), local SGD's
// averager under --merge-every, the small checkpoint at the end and the report's "sparse" object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "sprint/cli/commands.h"
#include "sprint/dist/process_group.h"
#include "sprint/nn/models.h"
#include "sprint/optim/optimizer.h"
#include "sprint/train/model_averaging.h"
#include "sprint/train/parameter_mask.h"

namespace sprint::cli {

class SparseRun {
 public:
  /// Checks the sparse and local-SGD options of `a` (InvalidArgument naming the flag) and reads the mask. `group`:
  /// data parallelism (null: alone). The model and optimizer must outlive this object.
  SparseRun(const TrainArgs& a, nn::Model& model, optim::Optimizer& optimizer, dist::ProcessGroup* group);

  /// The averager local SGD merges with (null without --merge-every).
  train::ModelAverager* averager() { return averager_.get(); }
  bool masked() const { return mask_.has_value(); }
  /// One line for the run's header ("" without a mask or local SGD).
  std::string describe() const;

  /// Before each epoch (1-based): installs the mask in the optimizer and the averager once the dense epochs are
  /// over.
  void start_epoch(const Stream& stream, int64_t epoch);

  /// After the run: the small checkpoint (--save-sparse), printed and in the report's JSON object.
  void finish(const Stream& stream, int64_t steps_done);
  /// The report's "sparse" object ("" without a mask or local SGD).
  std::string json() const;

 private:
  const TrainArgs& args_;
  nn::Model& model_;
  optim::Optimizer& optimizer_;
  dist::ProcessGroup* group_;
  std::optional<train::ParameterMask> mask_;
  UpdateMaskMode mode_ = UpdateMaskMode::kFreeze;
  bool installed_ = false;
  int64_t installed_at_epoch_ = 0;
  std::unique_ptr<train::ModelAverager> averager_;
  std::string sparse_json_;  // the small checkpoint's part of the report
};

}  // namespace sprint::cli
