// gradient_buckets.h: the gradient all-reduce of data-parallel training, in buckets. Gradients are copied
// into flat buffers of about bucket_bytes each (f32 for f32 and half gradients, f64 for f64 ones), each
// buffer is averaged over the ranks in one collective, and the means are copied back: a few large collectives
// instead of one per parameter (the CNN's 10 gradients, resnet18's 62).
//
// Overlap with backward: between begin_step() and finish(), GradientBuckets listens to the backward
// (nn/gradient_listener.h). It counts how many modules write each parameter's gradient (weight sharing:
// several), so it knows when a gradient is final for the step, and starts a bucket's all-reduce
// (ProcessGroup:: allreduce_async) as soon as all of its gradients are; each later announcement lets the
// started ones progress. Buckets are laid out in the order the gradients became final on the first step
// (about the reverse of the parameters' order), so the first ones fill while backward still has most layers
// to go. finish() reduces what is left and waits. The plan is remade whenever the set of gradients to reduce
// changes (a frozen or unfrozen parameter): that step's early collectives are then waited for and discarded,
// and every bucket is reduced again, the same way on every rank.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "sprint/dist/process_group.h"
#include "sprint/nn/gradient_listener.h"
#include "sprint/nn/module.h"
#include "sprint/nn/parameter.h"

namespace sprint::train {

class GradientBuckets final : public nn::GradientListener {
 public:
  /// bucket_bytes > 0: a bucket closes once it holds at least that many bytes (a larger gradient has one
  /// alone). `root`: the model whose backward will be announced (its modules are counted as writers; it must
  /// outlive this).
  GradientBuckets(int64_t bucket_bytes, nn::Module& root);

  /// A step whose backward is announced to this listener (RunContext::gradient_listener) begins.
  void begin_step(dist::ProcessGroup& group, const Stream& stream);
  void gradients_written(const nn::RunContext& ctx, const nn::Module& module) override;
  /// After backward: every trainable parameter's gradient (those that have one) becomes its mean over the
  /// group's ranks. Without begin_step, all of the work happens here.
  void finish(dist::ProcessGroup& group, const Stream& stream);

  /// Buckets of the current plan (0 before the first step).
  size_t bucket_count() const { return buckets_.size(); }
  /// Of those, how many the last step started before its backward ended.
  size_t started_during_backward() const { return started_early_; }

 private:
  struct Slot {
    nn::Parameter* param;
    int64_t offset;  // elements into the bucket
  };
  struct Bucket {
    DType dtype = DType::kF32;
    int64_t elements = 0;
    std::vector<Slot> slots;
    Tensor flat;                                       // on the gradients' device
    int remaining = 0;                                 // writes still to come this step
    std::unique_ptr<dist::PendingCollective> pending;  // started this step
  };
  void plan(const Stream& stream, const std::vector<nn::Parameter*>& grads);
  void start(size_t bucket, dist::ProcessGroup& group, const Stream& stream);
  void wait_and_copy_back(const Stream& stream);

  int64_t bucket_bytes_;
  nn::Module& root_;
  std::vector<nn::Parameter*> parameters_;                // the model's, in its order
  std::unordered_map<nn::Parameter*, int> writers_;       // modules that write each gradient
  std::unordered_map<nn::Parameter*, size_t> bucket_of_;  // under the current plan
  std::vector<nn::Parameter*> planned_for_;               // sorted: the gradients the plan covers
  std::vector<Bucket> buckets_;
  // The step in progress (between begin_step and finish).
  dist::ProcessGroup* group_ = nullptr;
  Stream stream_;
  std::unordered_map<nn::Parameter*, int> writes_left_;
  std::vector<nn::Parameter*> final_order_;   // the gradients in the order they became final
  std::vector<nn::Parameter*> layout_order_;  // the first step's final_order_: how buckets are laid out
  size_t started_early_ = 0;
};

}  // namespace sprint::train
