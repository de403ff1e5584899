// gradient_buckets.cpp: GradientBuckets (see gradient_buckets.h).
#include "sprint/train/gradient_buckets.h"

#include <algorithm>
#include <unordered_set>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"

namespace sprint::train {
namespace {
// The dtype a gradient is reduced in: f64 stays f64, everything else (f32, f16, bf16) goes through f32.
DType bucket_dtype(DType grad) {
  return grad == DType::kF64 ? DType::kF64 : DType::kF32;
}

Tensor slot_view(const Tensor& flat, int64_t offset, const Tensor& grad) {
  return flat.narrow(0, offset, grad.numel()).reshape(grad.shape());
}

// Every module of the tree (a module reached twice counts twice: its backward runs twice).
void count_writers(nn::Module& m, std::unordered_map<nn::Parameter*, int>& writers) {
  for (const nn::ParameterPtr& p : m.own_parameters()) ++writers[p.get()];
  for (auto& [name, child] : m.children()) count_writers(*child, writers);
}
}  // namespace

GradientBuckets::GradientBuckets(int64_t bucket_bytes, nn::Module& root)
    : bucket_bytes_(bucket_bytes), root_(root) {
  SPRINT_CHECK(bucket_bytes > 0, "gradient buckets need a positive size, got {} bytes", bucket_bytes);
  for (const nn::ParameterPtr& p : root.parameters()) parameters_.push_back(p.get());
  count_writers(root, writers_);
}

void GradientBuckets::plan(const Stream& stream, const std::vector<nn::Parameter*>& grads) {
  buckets_.clear();
  bucket_of_.clear();
  for (DType dtype : {DType::kF32, DType::kF64}) {
    Bucket open;
    open.dtype = dtype;
    for (nn::Parameter* p : grads) {
      if (bucket_dtype(p->grad().dtype()) != dtype) continue;
      open.slots.push_back({p, open.elements});
      open.elements += p->grad().numel();
      if (open.elements * static_cast<int64_t>(dtype_size(dtype)) >= bucket_bytes_) {
        buckets_.push_back(std::move(open));
        open = Bucket();
        open.dtype = dtype;
      }
    }
    if (!open.slots.empty()) buckets_.push_back(std::move(open));
  }
  for (size_t i = 0; i < buckets_.size(); ++i) {
    Bucket& b = buckets_[i];
    b.flat = Tensor::empty({b.elements}, b.dtype, stream.allocator());
    for (const Slot& s : b.slots) bucket_of_[s.param] = i;
  }
  planned_for_ = grads;
  std::sort(planned_for_.begin(), planned_for_.end());
}

void GradientBuckets::begin_step(dist::ProcessGroup& group, const Stream& stream) {
  group_ = &group;
  stream_ = stream;
  writes_left_ = writers_;
  final_order_.clear();
  started_early_ = 0;
  for (Bucket& b : buckets_) {
    b.pending.reset();
    b.remaining = 0;
    for (const Slot& s : b.slots) b.remaining += writers_.at(s.param);
  }
}

void GradientBuckets::start(size_t bucket, dist::ProcessGroup& group, const Stream& stream) {
  Bucket& b = buckets_[bucket];
  for (const Slot& s : b.slots)
    ops::copy(stream, s.param->grad(), slot_view(b.flat, s.offset, s.param->grad()));
  b.pending = group.allreduce_async(stream, b.flat, dist::ReduceOp::kAverage);
}

void GradientBuckets::gradients_written(const nn::RunContext& ctx, const nn::Module& module) {
  (void)ctx;
  if (group_ == nullptr) return;
  for (const nn::ParameterPtr& p : module.own_parameters()) {
    const auto left = writes_left_.find(p.get());
    if (left == writes_left_.end() || left->second == 0 || --left->second > 0) continue;
    if (!p->trainable() || !p->has_grad()) continue;
    final_order_.push_back(p.get());
    const auto in = bucket_of_.find(p.get());
    if (in == bucket_of_.end()) continue;
    Bucket& b = buckets_[in->second];
    b.remaining -= writers_.at(p.get());
    if (b.remaining == 0) {
      start(in->second, *group_, stream_);
      ++started_early_;
    }
  }
  for (Bucket& b : buckets_)  // MPI progresses non-blocking collectives inside its calls
    if (b.pending) (void)b.pending->test();
}

void GradientBuckets::wait_and_copy_back(const Stream& stream) {
  for (Bucket& b : buckets_) {
    b.pending->wait();
    b.pending.reset();
    for (const Slot& s : b.slots)
      ops::copy(stream, slot_view(b.flat, s.offset, s.param->grad()), s.param->grad());
  }
}

void GradientBuckets::finish(dist::ProcessGroup& group, const Stream& stream) {
  std::vector<nn::Parameter*> grads;
  for (nn::Parameter* p : parameters_)
    if (p->trainable() && p->has_grad()) grads.push_back(p);
  std::vector<nn::Parameter*> sorted = grads;
  std::sort(sorted.begin(), sorted.end());
  if (sorted != planned_for_) {
    // Collectives started under the old plan were started on every rank: finish them before re-planning.
    for (Bucket& b : buckets_)
      if (b.pending) b.pending->wait();
    if (layout_order_.empty()) layout_order_ = final_order_;
    // Lay out in the order gradients became final, then whatever was not announced, last parameter first.
    std::vector<nn::Parameter*> order;
    std::unordered_set<nn::Parameter*> placed;
    const std::unordered_set<nn::Parameter*> wanted(grads.begin(), grads.end());
    for (nn::Parameter* p : layout_order_)
      if (wanted.contains(p) && placed.insert(p).second) order.push_back(p);
    for (auto it = grads.rbegin(); it != grads.rend(); ++it)
      if (placed.insert(*it).second) order.push_back(*it);
    plan(stream, order);
  }
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (!buckets_[i].pending) start(i, group, stream);
  wait_and_copy_back(stream);
  group_ = nullptr;
}

}  // namespace sprint::train
