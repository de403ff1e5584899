// optimizer.cpp (ops): validation + dispatch for fused parameter updates.
#include "sprint/ops/optimizer.h"

namespace sprint::ops {
namespace {
const BackendTable<void (*)(const Stream&, const SgdUpdateArgs&)> kSgd{"sgd_update", &cpu::sgd_update,
                                                                       SPRINT_CUDA_IMPL(cuda::sgd_update)};
const BackendTable<void (*)(const Stream&, const AdamUpdateArgs&)> kAdam{"adam_update", &cpu::adam_update,
                                                                         SPRINT_CUDA_IMPL(cuda::adam_update)};

void check_lists(const Stream& s, std::span<const Tensor> params, std::span<const Tensor> other, const char* what,
                 const char* op) {
  SPRINT_CHECK(other.size() == params.size(), "{}: {} {} for {} parameters", op, other.size(), what, params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    SPRINT_CHECK(other[i].shape() == params[i].shape(), "{}: {} {} has shape {}, parameter has {}", op, what, i,
                 other[i].shape().to_string(), params[i].shape().to_string());
    check_on_stream_device(s, {&params[i], &other[i]}, op);
    // Updated element by element over their storage: contiguous, or blocked weights alike (padding stays 0).
    const Tensor& p = params[i];
    SPRINT_CHECK(p.is_contiguous() || p.is_weight_blocked(), "{}: parameter {} must be contiguous or blocked weights",
                 op, p.description());
    SPRINT_CHECK(other[i].is_contiguous() == p.is_contiguous() && other[i].weight_block() == p.weight_block(),
                 "{}: {} {} is stored as {}, its parameter as {}", op, what, i, other[i].description(),
                 p.description());
  }
}
void check_step_values(const Stream& s, const Tensor& t, const char* op) {
  if (!t.defined()) return;
  SPRINT_CHECK(t.dtype() == DType::kF64 && t.ndim() == 1 && t.dim(0) == kStepValueCount && t.is_contiguous(),
               "{}: step values must be a contiguous f64 ({}) tensor, got {}", op, kStepValueCount, t.description());
  check_on_stream_device(s, {&t}, op);
}
}  // namespace

void sgd_update(const Stream& s, const SgdUpdateArgs& a) {
  check_lists(s, a.params, a.grads, "gradients", "sgd_update");
  if (a.hyper.momentum != 0.0) check_lists(s, a.params, a.momentum_buffers, "momentum buffers", "sgd_update");
  SPRINT_CHECK(a.hyper.lr >= 0.0 && a.hyper.momentum >= 0.0 && a.hyper.weight_decay >= 0.0,
               "sgd_update: lr, momentum and weight decay must be >= 0");
  SPRINT_CHECK(!a.hyper.nesterov || (a.hyper.momentum > 0.0 && a.hyper.dampening == 0.0),
               "sgd_update: Nesterov momentum needs momentum > 0 and dampening 0");
  SPRINT_CHECK(a.hyper.lr_scale >= 0.0, "sgd_update: lr_scale must be >= 0");
  check_step_values(s, a.step_values, "sgd_update");
  if (a.params.empty()) return;
  kSgd.select(s.device())(s, a);
}

void adam_update(const Stream& s, const AdamUpdateArgs& a) {
  check_lists(s, a.params, a.grads, "gradients", "adam_update");
  check_lists(s, a.params, a.exp_avg, "first moments", "adam_update");
  check_lists(s, a.params, a.exp_avg_sq, "second moments", "adam_update");
  SPRINT_CHECK(a.step >= 1, "adam_update: step must be >= 1, got {}", a.step);
  check_step_values(s, a.step_values, "adam_update");
  if (a.params.empty()) return;
  kAdam.select(s.device())(s, a);
}

}  // namespace sprint::ops
