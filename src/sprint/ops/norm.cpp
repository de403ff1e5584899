// norm.cpp (ops): validation + dispatch for BatchNorm2d.
#include "sprint/ops/norm.h"

#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using TrainingFn = void (*)(const Stream&, const BatchNormTrainingArgs&);
using InferenceFn = void (*)(const Stream&, const BatchNormInferenceArgs&);
using BackwardFn = void (*)(const Stream&, const BatchNormBackwardArgs&);
const BackendTable<TrainingFn> kTraining{"batch_norm_forward_training", &cpu::batch_norm_forward_training,
                                         SPRINT_CUDA_IMPL(cuda::batch_norm_forward_training)};
const BackendTable<InferenceFn> kInference{"batch_norm_forward_inference", &cpu::batch_norm_forward_inference,
                                           SPRINT_CUDA_IMPL(cuda::batch_norm_forward_inference)};
const BackendTable<BackwardFn> kBackward{"batch_norm_backward", &cpu::batch_norm_backward,
                                         SPRINT_CUDA_IMPL(cuda::batch_norm_backward)};

// Checks x and the output, returns the per-channel dtype.
DType check_activations(const Tensor& x, const Tensor& y, const char* y_name, const char* op) {
  const MemoryFormat format = check_image(x, "x", op);
  check_floating(x, op);
  if (y.defined()) {
    check_shape(y, x.shape(), y_name);
    check_image(y, y_name, op);
    check_same_format(format, {&y}, op);
    check_same_dtype(x.dtype(), {&y}, op);
  }
  return norm_param_dtype(x.dtype());
}

void check_optional_vector(const Tensor& t, int64_t c, DType dtype, const char* name, const char* op) {
  if (t.defined()) check_vector(t, c, dtype, name, op);
}
}  // namespace

void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& a) {
  constexpr const char* op = "batch_norm_forward_training";
  const DType pt = check_activations(a.x, a.y, "y", op);
  SPRINT_CHECK(a.y.defined(), "{}: y is undefined", op);
  const int64_t c = a.x.dim(1);
  SPRINT_CHECK(a.x.dim(0) * a.x.dim(2) * a.x.dim(3) >= 2,
               "{}: training needs more than one value per channel, got x {}", op, a.x.description());
  SPRINT_CHECK(a.eps > 0.0 && a.momentum >= 0.0 && a.momentum <= 1.0,
               "{}: needs eps > 0 and momentum in [0, 1], got {} and {}", op, a.eps, a.momentum);
  check_optional_vector(a.gamma, c, pt, "gamma", op);
  check_optional_vector(a.beta, c, pt, "beta", op);
  SPRINT_CHECK(a.running_mean.defined() == a.running_var.defined(),
               "{}: give both running statistics or neither", op);
  check_optional_vector(a.running_mean, c, pt, "running_mean", op);
  check_optional_vector(a.running_var, c, pt, "running_var", op);
  check_vector(a.save_mean, c, pt, "save_mean", op);
  check_vector(a.save_invstd, c, pt, "save_invstd", op);
  check_on_stream_device(
      stream, {&a.x, &a.gamma, &a.beta, &a.y, &a.running_mean, &a.running_var, &a.save_mean, &a.save_invstd},
      op);
  check_same_or_disjoint(a.y, a.x, op);
  kTraining.select(stream.device())(stream, a);
}

void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& a) {
  constexpr const char* op = "batch_norm_forward_inference";
  const DType pt = check_activations(a.x, a.y, "y", op);
  SPRINT_CHECK(a.y.defined(), "{}: y is undefined", op);
  SPRINT_CHECK(a.eps > 0.0, "{}: needs eps > 0, got {}", op, a.eps);
  const int64_t c = a.x.dim(1);
  check_optional_vector(a.gamma, c, pt, "gamma", op);
  check_optional_vector(a.beta, c, pt, "beta", op);
  check_vector(a.running_mean, c, pt, "running_mean", op);
  check_vector(a.running_var, c, pt, "running_var", op);
  check_optional_vector(a.save_mean, c, pt, "save_mean", op);
  check_optional_vector(a.save_invstd, c, pt, "save_invstd", op);
  check_on_stream_device(
      stream, {&a.x, &a.gamma, &a.beta, &a.y, &a.running_mean, &a.running_var, &a.save_mean, &a.save_invstd},
      op);
  check_same_or_disjoint(a.y, a.x, op);
  kInference.select(stream.device())(stream, a);
}

void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& a) {
  constexpr const char* op = "batch_norm_backward";
  const DType pt = check_activations(a.x, a.dy, "dy", op);
  SPRINT_CHECK(a.dy.defined(), "{}: dy is undefined", op);
  check_activations(a.x, a.dx, "dx", op);
  const int64_t c = a.x.dim(1);
  SPRINT_CHECK(!a.dgamma.defined() || a.gamma.defined(), "{}: dgamma requested without a gamma", op);
  check_optional_vector(a.gamma, c, pt, "gamma", op);
  check_vector(a.save_mean, c, pt, "save_mean", op);
  check_vector(a.save_invstd, c, pt, "save_invstd", op);
  check_optional_vector(a.dgamma, c, pt, "dgamma", op);
  check_optional_vector(a.dbeta, c, pt, "dbeta", op);
  check_on_stream_device(
      stream, {&a.dy, &a.x, &a.gamma, &a.save_mean, &a.save_invstd, &a.dx, &a.dgamma, &a.dbeta}, op);
  check_no_alias(a.dx, {&a.x, &a.dy}, op);
  kBackward.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
