// model_averaging.h: local SGD's merge (FISH's distributed training, Table 3): the workers of a process group
// train alone and from time to time replace their weights by the mean over the group. With a mask only the
// masked entries travel and are averaged (the workers share the mask, so no indices are sent); without one every
// entry does. BatchNorm's running statistics are always averaged whole; optimizer state (momentum) is neither
// averaged nor reset, as in FISH's code.
#pragma once

#include <cstdint>

#include "sprint/dist/process_group.h"
#include "sprint/nn/module.h"
#include "sprint/train/parameter_mask.h"

namespace sprint::train {

class ModelAverager {
 public:
  /// `net` must outlive the averager; `mask` (may be null: dense) is copied.
  explicit ModelAverager(nn::Module& net, const ParameterMask* mask = nullptr);

  /// Averages over masked entries from now on (null: every entry). InvalidArgument when it does not fit the model.
  void set_mask(const ParameterMask* mask);
  bool masked() const { return masked_; }

  /// One merge: every rank calls it at the same step. The parameters' masters (f32) and the buffers are averaged
  /// in one all-reduce of values_per_merge() floats.
  void merge(const Stream& stream, dist::ProcessGroup& group);

  int64_t merges() const { return merges_; }
  /// Floats one rank sends per merge now, and what a dense merge sends (every parameter and buffer entry).
  int64_t values_per_merge() const { return values_; }
  int64_t dense_values_per_merge() const { return dense_values_; }
  /// Payload bytes this rank handed to the merges' all-reduces so far (counted from the process group's traffic).
  int64_t bytes_sent() const { return bytes_sent_; }
  int64_t dense_bytes_per_merge() const { return dense_values_ * 4; }
  /// The merges made with a mask, and the bytes they sent (the rest were dense).
  int64_t masked_merges() const { return masked_merges_; }
  int64_t masked_bytes_sent() const { return masked_bytes_; }

 private:
  struct Slot {
    nn::ParameterPtr param;
    std::vector<int64_t> positions;  // kept logical positions; all of them when empty and whole
    bool whole = true;
  };
  nn::Module& net_;
  std::vector<Slot> slots_;
  bool masked_ = false;
  int64_t values_ = 0, dense_values_ = 0, merges_ = 0, bytes_sent_ = 0, masked_merges_ = 0, masked_bytes_ = 0;
};

}  // namespace sprint::train
