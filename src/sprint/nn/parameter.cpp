// parameter.cpp: Parameter storage and gradient-mode bookkeeping.
#include "sprint/nn/parameter.h"

#include "sprint/ops/elementwise.h"

namespace sprint::nn {

Parameter::Parameter(std::string name, Tensor value, bool trainable)
    : name_(std::move(name)), trainable_(trainable) {
  set_value(std::move(value));
}

void Parameter::set_value(Tensor value) {
  SPRINT_CHECK(value.defined(), "parameter {} needs a defined value", name_);
  value_ = std::move(value);
  Allocator* allocator = value_.storage()->allocator();
  SPRINT_CHECK(allocator != nullptr, "parameter {} must own its memory", name_);
  grad_ = Tensor::empty(value_.shape(), value_.dtype(), *allocator, value_.memory_format());
  has_grad_ = false;
}

void Parameter::load_value(const Stream& stream, const Tensor& values) {
  SPRINT_CHECK(values.shape() == value_.shape(), "parameter {}: cannot load {} into {}", name_, values.description(),
               value_.description());
  ops::copy(stream, ops::to_stream_device(stream, values), value_);
}

void Parameter::convert_format(const Stream& stream, MemoryFormat format) {
  if (value_.memory_format() == format) return;
  Tensor grad = has_grad_ ? ops::cast_to(stream, grad_, grad_.dtype(), format) : Tensor();
  const bool had_grad = has_grad_;
  set_value(ops::cast_to(stream, value_, value_.dtype(), format));
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
