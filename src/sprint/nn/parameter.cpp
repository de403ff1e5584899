// parameter.cpp: Parameter storage and gradient-mode bookkeeping.
#include "sprint/nn/parameter.h"

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"

namespace sprint::nn {

Parameter::Parameter(std::string name, Tensor value, bool trainable)
    : name_(std::move(name)), trainable_(trainable) {
  set_value(std::move(value));
}

void Parameter::set_value(Tensor value) {
  SPRINT_CHECK(value.defined(), "parameter {} needs a defined value", name_);
  SPRINT_CHECK(!master_.defined(), "parameter {} has an f32 master: move it before choosing a compute dtype", name_);
  value_ = std::move(value);
  Allocator* allocator = value_.storage()->allocator();
  SPRINT_CHECK(allocator != nullptr, "parameter {} must own its memory", name_);
  grad_ = Tensor::empty(value_.shape(), value_.dtype(), *allocator, value_.memory_format());
  has_grad_ = false;
}

void Parameter::move_to(const Stream& stream) {
  if (value_.device() == stream.device()) return;
  value_ = ops::copy_to(stream, value_);
  if (master_.defined()) master_ = ops::copy_to(stream, master_);
  grad_ = ops::copy_to(stream, grad_);
}

void Parameter::load_value(const Stream& stream, const Tensor& values) {
  SPRINT_CHECK(values.shape() == value_.shape(), "parameter {}: cannot load {} into {}", name_, values.description(),
               value_.description());
  ops::copy(stream, ops::to_stream_device(stream, values), master_value());
  if (master_.defined()) refresh_compute_copy(stream);
}

void Parameter::use_compute_dtype(const Stream& stream, DType dtype) {
  if (dtype == value_.dtype()) return;
  SPRINT_CHECK(!master_.defined(), "parameter {} already computes in {}", name_, dtype_name(value_.dtype()));
  SPRINT_CHECK(value_.dtype() == DType::kF32 && (dtype == DType::kF16 || dtype == DType::kBF16),
               "parameter {}: mixed precision keeps an f32 master and computes in f16 or bf16, not {} from {}", name_,
               dtype_name(dtype), dtype_name(value_.dtype()));
  Tensor compute = ops::cast_to(stream, value_, dtype, value_.memory_format());
  master_ = std::move(value_);
  value_ = std::move(compute);
  // The gradient stays f32: layers write dW and db in f32 from half operands, so accumulation over micro-batches
  // and shared weights, the loss scaler's checks and the all-reduce see f32 values (PyTorch's AMP keeps .grad
  // in the parameter's f32 as well).
  grad_ = Tensor::empty(value_.shape(), master_.dtype(), stream.allocator(), value_.memory_format());
  has_grad_ = false;
}

void Parameter::refresh_compute_copy(const Stream& stream) {
  if (master_.defined()) ops::copy(stream, master_, value_);
}

void Parameter::convert_format(const Stream& stream, MemoryFormat format) {
  if (value_.memory_format() == format) return;
  Tensor grad = has_grad_ ? ops::cast_to(stream, grad_, grad_.dtype(), format) : Tensor();
  const bool had_grad = has_grad_;
  if (master_.defined()) {
    master_ = ops::cast_to(stream, master_, master_.dtype(), format);
    value_ = ops::cast_to(stream, value_, value_.dtype(), format);
    grad_ = Tensor::empty(value_.shape(), master_.dtype(), stream.allocator(), format);
    has_grad_ = false;
  } else {
    set_value(ops::cast_to(stream, value_, value_.dtype(), format));
  }
  if (had_grad) {
    grad_ = std::move(grad);
    has_grad_ = true;
  }
}

GradMode Parameter::take_grad_mode() {
  const GradMode mode = has_grad_ ? GradMode::kAccumulate : GradMode::kOverwrite;
  has_grad_ = true;
  return mode;
}

}  // namespace sprint::nn
