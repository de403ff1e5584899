// optimizer.cpp (ops): validation + dispatch for fused parameter updates.
#include "sprint/ops/optimizer.h"

namespace sprint::ops {
namespace {
const BackendTable<void (*)(const Stream&, const SgdUpdateArgs&)> kSgd{"sgd_update", &cpu::sgd_update,
                                                                       SPRINT_CUDA_IMPL(cuda::sgd_update)};
const BackendTable<void (*)(const Stream&, const AdamUpdateArgs&)> kAdam{"adam_update", &cpu::adam_update,
                                                                         SPRINT_CUDA_IMPL(cuda::adam_update)};
const BackendTable<void (*)(const Stream&, const StepValuesSelectArgs&)> kSelect{
    "step_values_select", &cpu::step_values_select, SPRINT_CUDA_IMPL(cuda::step_values_select)};

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
// Mixed precision: an f32 parameter (the master) with an f32 gradient or one in its compute copy's dtype, and the
// compute copy (f16 or bf16) that the update writes.
void check_dtypes(const Stream& s, std::span<const Tensor> params, std::span<const Tensor> grads,
                  std::span<const Tensor> copies, const char* op) {
  SPRINT_CHECK(copies.empty() || copies.size() == params.size(), "{}: {} compute copies for {} parameters", op,
               copies.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const bool half_grad = params[i].dtype() != grads[i].dtype();
    SPRINT_CHECK(!half_grad || (params[i].dtype() == DType::kF32 && dtype_is_half(grads[i].dtype())),
                 "{}: parameter {} is {} with a {} gradient (a gradient is its parameter's dtype, or f16/bf16 beside "
                 "an f32 master)", op, i, dtype_name(params[i].dtype()), dtype_name(grads[i].dtype()));
    if (copies.empty() || !copies[i].defined()) continue;
    const Tensor& c = copies[i];
    SPRINT_CHECK(params[i].dtype() == DType::kF32 && dtype_is_half(c.dtype()) &&
                     (!half_grad || grads[i].dtype() == c.dtype()),
                 "{}: compute copy {} is {}; it is f16 or bf16 beside an f32 parameter, with an f32 gradient or one "
                 "of its dtype (got {} and {})", op, i, dtype_name(c.dtype()), dtype_name(params[i].dtype()),
                 dtype_name(grads[i].dtype()));
    SPRINT_CHECK(c.shape() == params[i].shape() && c.is_contiguous() == params[i].is_contiguous() &&
                     c.weight_block() == params[i].weight_block(),
                 "{}: compute copy {} is {}, its parameter {}", op, i, c.description(), params[i].description());
    check_on_stream_device(s, {&params[i], &c}, op);
  }
}

// Update masks: none, or one per parameter, each undefined or stored as its parameter (dtype, shape, layout).
void check_masks(const Stream& s, std::span<const Tensor> params, std::span<const Tensor> masks, const char* op) {
  if (masks.empty()) return;
  SPRINT_CHECK(masks.size() == params.size(), "{}: {} update masks for {} parameters", op, masks.size(),
               params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& m = masks[i];
    if (!m.defined()) continue;
    const Tensor& p = params[i];
    SPRINT_CHECK(m.dtype() == p.dtype() && m.shape() == p.shape() && m.is_contiguous() == p.is_contiguous() &&
                     m.weight_block() == p.weight_block(),
                 "{}: update mask {} is {}, its parameter {}", op, i, m.description(), p.description());
    check_on_stream_device(s, {&p, &m}, op);
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
  check_dtypes(s, a.params, a.grads, a.compute_copies, "sgd_update");
  if (a.hyper.momentum != 0.0) check_lists(s, a.params, a.momentum_buffers, "momentum buffers", "sgd_update");
  SPRINT_CHECK(a.hyper.lr >= 0.0 && a.hyper.momentum >= 0.0 && a.hyper.weight_decay >= 0.0,
               "sgd_update: lr, momentum and weight decay must be >= 0");
  SPRINT_CHECK(!a.hyper.nesterov || (a.hyper.momentum > 0.0 && a.hyper.dampening == 0.0),
               "sgd_update: Nesterov momentum needs momentum > 0 and dampening 0");
  SPRINT_CHECK(a.hyper.lr_scale >= 0.0, "sgd_update: lr_scale must be >= 0");
  check_step_values(s, a.step_values, "sgd_update");
  check_masks(s, a.params, a.masks, "sgd_update");
  if (a.params.empty()) return;
  kSgd.select(s.device())(s, a);
}

void adam_update(const Stream& s, const AdamUpdateArgs& a) {
  check_lists(s, a.params, a.grads, "gradients", "adam_update");
  check_dtypes(s, a.params, a.grads, a.compute_copies, "adam_update");
  check_lists(s, a.params, a.exp_avg, "first moments", "adam_update");
  check_lists(s, a.params, a.exp_avg_sq, "second moments", "adam_update");
  SPRINT_CHECK(a.step >= 1, "adam_update: step must be >= 1, got {}", a.step);
  check_step_values(s, a.step_values, "adam_update");
  check_masks(s, a.params, a.masks, "adam_update");
  if (a.params.empty()) return;
  kAdam.select(s.device())(s, a);
}

void step_values_select(const Stream& s, const StepValuesSelectArgs& a) {
  constexpr const char* op = "step_values_select";
  SPRINT_CHECK(a.table.dtype() == DType::kF64 && a.table.ndim() == 2 && a.table.dim(0) >= 1 &&
                   a.table.dim(1) == kStepValueCount && a.table.is_contiguous(),
               "{}: the table must be a contiguous f64 (T >= 1, {}) tensor, got {}", op, kStepValueCount,
               a.table.description());
  SPRINT_CHECK(a.cursor.dtype() == DType::kI64 && a.cursor.shape() == Shape{1},
               "{}: the cursor must be an i64 (1) tensor, got {}", op, a.cursor.description());
  check_step_values(s, a.out, op);
  SPRINT_CHECK(a.out.defined(), "{}: no output tensor", op);
  check_on_stream_device(s, {&a.table, &a.cursor}, op);
  kSelect.select(s.device())(s, a);
}

}  // namespace sprint::ops
