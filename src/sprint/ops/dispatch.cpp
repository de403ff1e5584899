// dispatch.cpp: shared validation for ops/ front doors.
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

void check_on_stream_device(const Stream& stream, std::initializer_list<const Tensor*> tensors, const char* op) {
  const Device device = stream.device();
  for (const Tensor* t : tensors)
    if (t->defined())
      SPRINT_CHECK(t->device() == device, "{}: tensor {} is not on the stream's device {}", op, t->description(),
                   device_name(device));
}

void check_same_dtype(DType dtype, std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    if (t->defined())
      SPRINT_CHECK(t->dtype() == dtype, "{}: expected {} tensors, got {}", op, dtype_name(dtype), t->description());
}

void check_param_grad_dtype(DType compute, std::initializer_list<const Tensor*> grads, const char* op) {
  const bool half = dtype_is_half(compute);
  const Tensor* first = nullptr;
  for (const Tensor* g : grads) {
    if (!g->defined()) continue;
    SPRINT_CHECK(g->dtype() == compute || (half && g->dtype() == DType::kF32),
                 "{}: a parameter gradient of {} operands is {}{}, got {}", op, dtype_name(compute),
                 dtype_name(compute), half ? " or f32" : "", g->description());
    if (first == nullptr) first = g;
    SPRINT_CHECK(g->dtype() == first->dtype(), "{}: parameter gradients {} and {} differ in dtype", op,
                 first->description(), g->description());
  }
}

void check_contiguous(std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    if (t->defined()) SPRINT_CHECK(t->is_contiguous(), "{}: tensor {} must be contiguous", op, t->description());
}

void check_no_alias(const Tensor& out, std::initializer_list<const Tensor*> inputs, const char* op) {
  for (const Tensor* t : inputs)
    SPRINT_CHECK(!out.overlaps(*t), "{}: output {} overlaps input {}", op, out.description(), t->description());
}

void check_floating(const Tensor& t, const char* op) {
  SPRINT_CHECK(dtype_is_floating(t.dtype()), "{}: expected a floating tensor, got {}", op, t.description());
}

}  // namespace sprint::ops
