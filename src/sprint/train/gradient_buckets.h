// gradient_buckets.h: the gradient all-reduce of data-parallel training, in buckets. Gradients are copied into
// flat buffers of about bucket_bytes each (f32 for f32 and half gradients, f64 for f64 ones), each buffer is
// averaged over the ranks in one collective, and the means are copied back: a few large collectives instead of
// one per parameter (the CNN's 10 gradients, resnet18's 62). The plan is made on the first step and again
// whenever the set of gradients to reduce changes (a frozen or unfrozen parameter).
#pragma once

#include <cstdint>
#include <vector>

#include "sprint/dist/process_group.h"
#include "sprint/nn/parameter.h"

namespace sprint::train {

class GradientBuckets {
 public:
  /// bucket_bytes > 0: a bucket closes once it holds at least that many bytes (a larger gradient has one alone).
  explicit GradientBuckets(int64_t bucket_bytes);

  /// Every trainable parameter's gradient (those that have one) becomes its mean over the group's ranks.
  void allreduce_mean(dist::ProcessGroup& group, const Stream& stream, const std::vector<nn::ParameterPtr>& params);

  /// Buckets of the current plan (0 before the first call).
  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Slot {
    nn::Parameter* param;
    int64_t offset;  // elements into the bucket
  };
  struct Bucket {
    DType dtype;
    int64_t elements = 0;
    std::vector<Slot> slots;
    Tensor flat;  // on the gradients' device
  };
  void plan(const Stream& stream, const std::vector<nn::Parameter*>& grads);

  int64_t bucket_bytes_;
  std::vector<nn::Parameter*> planned_for_;
  std::vector<Bucket> buckets_;
};

}  // namespace sprint::train
