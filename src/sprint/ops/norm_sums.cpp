// norm_sums.cpp (ops): validation + dispatch for batch norm around its per-channel sums.
#include "sprint/ops/norm_sums.h"

#include "sprint/backend/api/norm.h"
#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using SumsFn = void (*)(const Stream&, const BatchNormSumsArgs&);
using StatisticsFn = void (*)(const Stream&, const BatchNormStatisticsArgs&);
using BackwardSumsFn = void (*)(const Stream&, const BatchNormBackwardSumsArgs&);
using InputGradFn = void (*)(const Stream&, const BatchNormInputGradArgs&);
const BackendTable<SumsFn> kSums{"batch_norm_sums", &cpu::batch_norm_sums, SPRINT_CUDA_IMPL(cuda::batch_norm_sums)};
const BackendTable<StatisticsFn> kStatistics{"batch_norm_statistics", &cpu::batch_norm_statistics,
                                             SPRINT_CUDA_IMPL(cuda::batch_norm_statistics)};
const BackendTable<BackwardSumsFn> kBackwardSums{"batch_norm_backward_sums", &cpu::batch_norm_backward_sums,
                                                 SPRINT_CUDA_IMPL(cuda::batch_norm_backward_sums)};
const BackendTable<InputGradFn> kInputGrad{"batch_norm_input_grad", &cpu::batch_norm_input_grad,
                                           SPRINT_CUDA_IMPL(cuda::batch_norm_input_grad)};

// x (and `others`, of x's shape, format and dtype) are floating images; returns the per-channel dtype.
DType check_images(const Tensor& x, std::initializer_list<std::pair<const Tensor*, const char*>> others,
                   const char* op) {
  const MemoryFormat format = check_image(x, "x", op);
  check_floating(x, op);
  for (const auto& [t, name] : others) {
    SPRINT_CHECK(t->defined(), "{}: {} is undefined", op, name);
    check_shape(*t, x.shape(), name);
    check_image(*t, name, op);
    check_same_format(format, {t}, op);
    check_same_dtype(x.dtype(), {t}, op);
  }
  return norm_param_dtype(x.dtype());
}

void check_sums(const Tensor& sums, int64_t channels, const char* op) {
  check_vector(sums, 2 * channels + 1, DType::kF64, "sums", op);
}

void check_optional_vector(const Tensor& t, int64_t c, DType dtype, const char* name, const char* op) {
  if (t.defined()) check_vector(t, c, dtype, name, op);
}
}  // namespace

void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& a) {
  constexpr const char* op = "batch_norm_sums";
  check_images(a.x, {}, op);
  check_sums(a.sums, a.x.dim(1), op);
  check_on_stream_device(stream, {&a.x, &a.sums}, op);
  kSums.select(stream.device())(stream, a);
}

void batch_norm_statistics(const Stream& stream, const BatchNormStatisticsArgs& a) {
  constexpr const char* op = "batch_norm_statistics";
  SPRINT_CHECK(a.mean.defined() && a.mean.ndim() == 1, "{}: mean must be a (C) tensor, got {}", op,
               a.mean.description());
  const int64_t c = a.mean.dim(0);
  const DType pt = a.mean.dtype();
  SPRINT_CHECK(pt == DType::kF32 || pt == DType::kF64, "{}: per-channel tensors are f32 or f64, got {}", op,
               a.mean.description());
  check_sums(a.sums, c, op);
  check_vector(a.mean, c, pt, "mean", op);
  check_vector(a.var, c, pt, "var", op);
  SPRINT_CHECK(a.running_mean.defined() == a.running_var.defined(),
               "{}: give both running statistics or neither", op);
  check_optional_vector(a.running_mean, c, pt, "running_mean", op);
  check_optional_vector(a.running_var, c, pt, "running_var", op);
  SPRINT_CHECK(a.momentum >= 0.0 && a.momentum <= 1.0, "{}: needs momentum in [0, 1], got {}", op, a.momentum);
  check_on_stream_device(stream, {&a.sums, &a.mean, &a.var, &a.running_mean, &a.running_var}, op);
  check_no_alias(a.mean, {&a.var, &a.sums, &a.running_var}, op);
  check_no_alias(a.var, {&a.sums, &a.running_mean}, op);
  kStatistics.select(stream.device())(stream, a);
}

void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& a) {
  constexpr const char* op = "batch_norm_backward_sums";
  const DType pt = check_images(a.x, {{&a.dy, "dy"}}, op);
  const int64_t c = a.x.dim(1);
  check_vector(a.save_mean, c, pt, "save_mean", op);
  check_vector(a.save_invstd, c, pt, "save_invstd", op);
  check_sums(a.sums, c, op);
  check_optional_vector(a.dgamma, c, pt, "dgamma", op);
  check_optional_vector(a.dbeta, c, pt, "dbeta", op);
  check_on_stream_device(stream, {&a.dy, &a.x, &a.save_mean, &a.save_invstd, &a.sums, &a.dgamma, &a.dbeta}, op);
  kBackwardSums.select(stream.device())(stream, a);
}

void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& a) {
  constexpr const char* op = "batch_norm_input_grad";
  const DType pt = check_images(a.x, {{&a.dy, "dy"}, {&a.dx, "dx"}}, op);
  const int64_t c = a.x.dim(1);
  check_optional_vector(a.gamma, c, pt, "gamma", op);
  check_vector(a.save_mean, c, pt, "save_mean", op);
  check_vector(a.save_invstd, c, pt, "save_invstd", op);
  check_sums(a.sums, c, op);
  check_on_stream_device(stream, {&a.dy, &a.x, &a.gamma, &a.save_mean, &a.save_invstd, &a.sums, &a.dx}, op);
  check_no_alias(a.dx, {&a.x, &a.dy}, op);
  kInputGrad.select(stream.device())(stream, a);
}

Tensor batch_norm_sums_buffer(const Stream& stream, int64_t channels) {
  return Tensor::empty({2 * channels + 1}, DType::kF64, stream.allocator());
}

}  // namespace sprint::ops
