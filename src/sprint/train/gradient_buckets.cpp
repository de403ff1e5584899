// gradient_buckets.cpp: GradientBuckets (see gradient_buckets.h).
#include "sprint/train/gradient_buckets.h"

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"

namespace sprint::train {
namespace {
// The dtype a gradient is reduced in: f64 stays f64, everything else (f32, f16, bf16) goes through f32.
DType bucket_dtype(DType grad) { return grad == DType::kF64 ? DType::kF64 : DType::kF32; }

Tensor slot_view(const Tensor& flat, int64_t offset, const Tensor& grad) {
  return flat.narrow(0, offset, grad.numel()).reshape(grad.shape());
}
}  // namespace

GradientBuckets::GradientBuckets(int64_t bucket_bytes) : bucket_bytes_(bucket_bytes) {
  SPRINT_CHECK(bucket_bytes > 0, "gradient buckets need a positive size, got {} bytes", bucket_bytes);
}

void GradientBuckets::plan(const Stream& stream, const std::vector<nn::Parameter*>& grads) {
  buckets_.clear();
  for (DType dtype : {DType::kF32, DType::kF64}) {
    Bucket open{dtype};
    for (nn::Parameter* p : grads) {
      if (bucket_dtype(p->grad().dtype()) != dtype) continue;
      open.slots.push_back({p, open.elements});
      open.elements += p->grad().numel();
      if (open.elements * static_cast<int64_t>(dtype_size(dtype)) >= bucket_bytes_) {
        buckets_.push_back(std::move(open));
        open = Bucket{dtype};
      }
    }
    if (!open.slots.empty()) buckets_.push_back(std::move(open));
  }
  for (Bucket& b : buckets_) b.flat = Tensor::empty({b.elements}, b.dtype, stream.context().allocator());
  planned_for_ = grads;
}

void GradientBuckets::allreduce_mean(dist::ProcessGroup& group, const Stream& stream,
                                     const std::vector<nn::ParameterPtr>& params) {
  std::vector<nn::Parameter*> grads;
  for (const nn::ParameterPtr& p : params)
    if (p->trainable() && p->has_grad()) grads.push_back(p.get());
  if (grads != planned_for_) plan(stream, grads);
  for (Bucket& b : buckets_) {
    for (const Slot& s : b.slots) ops::copy(stream, s.param->grad(), slot_view(b.flat, s.offset, s.param->grad()));
    group.allreduce(stream, b.flat, dist::ReduceOp::kAverage);
    for (const Slot& s : b.slots) ops::copy(stream, slot_view(b.flat, s.offset, s.param->grad()), s.param->grad());
  }
}

}  // namespace sprint::train
