// conv.cpp (ops): validation + dispatch for Conv2d.
#include "sprint/ops/conv.h"

#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using ForwardFn = void (*)(const Stream&, const Conv2dForwardArgs&);
using BackwardDataFn = void (*)(const Stream&, const Conv2dBackwardDataArgs&);
using BackwardWeightFn = void (*)(const Stream&, const Conv2dBackwardWeightArgs&);
const BackendTable<ForwardFn> kForward{"conv2d_forward", &cpu::conv2d_forward,
                                       SPRINT_CUDA_IMPL(cuda::conv2d_forward)};
const BackendTable<BackwardDataFn> kBackwardData{"conv2d_backward_data", &cpu::conv2d_backward_data,
                                                 SPRINT_CUDA_IMPL(cuda::conv2d_backward_data)};
const BackendTable<BackwardWeightFn> kBackwardWeight{"conv2d_backward_weight", &cpu::conv2d_backward_weight,
                                                     SPRINT_CUDA_IMPL(cuda::conv2d_backward_weight)};

void check_params(const Conv2dParams& p, const char* op) {
  SPRINT_CHECK(p.stride >= 1 && p.padding >= 0 && p.dilation >= 1 && p.groups >= 1,
               "{}: needs stride >= 1, padding >= 0, dilation >= 1, groups >= 1; got {}, {}, {}, {}", op,
               p.stride, p.padding, p.dilation, p.groups);
}

// The input side (x, dx) and the output side (y, dy) share a format, except on the CPU, whose backend converts
// inside the op: a plain input feeds the first convolution of a channel-blocked network there.
void check_formats(const Stream& stream, MemoryFormat input_format, const Tensor& output, const char* op) {
  if (stream.device().is_cpu()) return;
  check_same_format(input_format, {&output}, op);
}

// Checks the weight against the input and returns the output shape.
Shape check_geometry(const Tensor& x, const Tensor& w, const Conv2dParams& p, const char* op) {
  check_params(p, op);
  SPRINT_CHECK(w.ndim() == 4, "{}: w must be 4-D (K, C/groups, R, S), got {}", op, w.description());
  SPRINT_CHECK(w.is_contiguous() || (w.is_weight_blocked() && p.groups == 1),
               "{}: w must be contiguous KCRS (or blocked weights, without groups), got {}", op, w.description());
  return conv2d_output_shape(x.shape(), w.shape(), p);
}
}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  constexpr const char* op = "conv2d";
  check_params(p, op);
  SPRINT_CHECK(x.size() == 4 && w.size() == 4,
               "{}: x (N, C, H, W) and w (K, C/G, R, S) must be 4-D, got {} and {}", op, x.to_string(),
               w.to_string());
  const int64_t c = x[1], k = w[0];
  SPRINT_CHECK(c % p.groups == 0 && k % p.groups == 0,
               "{}: {} input and {} output channels are not divisible by "
               "groups = {}",
               op, c, k, p.groups);
  SPRINT_CHECK(w[1] == c / p.groups, "{}: w {} expects {} input channels per group, x {} has {} / {} = {}",
               op, w.to_string(), w[1], x.to_string(), c, p.groups, c / p.groups);
  const int64_t out_h = conv2d_output_size(x[2], w[2], p), out_w = conv2d_output_size(x[3], w[3], p);
  SPRINT_CHECK(out_h >= 1 && out_w >= 1,
               "{}: a {}x{} kernel (dilation {}) does not fit a {}x{} input padded by {}", op, w[2], w[3],
               p.dilation, x[2], x[3], p.padding);
  return {x[0], k, out_h, out_w};
}

bool has_native_convolutions(const Stream& stream, DType dtype) {
  if (dtype == DType::kF32 || stream.device().is_cuda()) return true;
  return dtype == DType::kBF16 && cpu::has_native_bf16_convolutions(stream);
}

MemoryFormat preferred_activation_format(const Stream& stream, DType dtype) {
  if (stream.device().is_cuda()) return MemoryFormat::kChannelsLast;
  return cpu::preferred_activation_format(stream, dtype);
}

MemoryFormat preferred_weight_format(const Stream& stream, const Tensor& x, int64_t groups) {
  if (stream.device().is_cuda()) return MemoryFormat::kContiguous;
  return cpu::preferred_weight_format(stream, x.dtype(), x.memory_format(), groups);
}

void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& a) {
  constexpr const char* op = "conv2d_forward";
  const MemoryFormat format = check_image(a.x, "x", op);
  check_shape(a.y, check_geometry(a.x, a.w, a.params, op), "conv2d output y");
  check_image(a.y, "y", op);
  check_formats(stream, format, a.y, op);
  if (a.b.defined()) check_vector(a.b, a.w.dim(0), a.x.dtype(), "bias b", op);
  check_floating(a.x, op);
  check_same_dtype(a.x.dtype(), {&a.w, &a.y}, op);
  check_on_stream_device(stream, {&a.x, &a.w, &a.b, &a.y}, op);
  check_no_alias(a.y, {&a.x, &a.w, &a.b}, op);
  kForward.select(stream.device())(stream, a);
}

void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& a) {
  constexpr const char* op = "conv2d_backward_data";
  const MemoryFormat format = check_image(a.dx, "dx", op);
  check_shape(a.dy, check_geometry(a.dx, a.w, a.params, op), "conv2d dy");
  check_image(a.dy, "dy", op);
  check_formats(stream, format, a.dy, op);
  check_floating(a.dy, op);
  check_same_dtype(a.dy.dtype(), {&a.w, &a.dx}, op);
  check_on_stream_device(stream, {&a.dy, &a.w, &a.dx}, op);
  check_no_alias(a.dx, {&a.dy, &a.w}, op);
  kBackwardData.select(stream.device())(stream, a);
}

void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& a) {
  constexpr const char* op = "conv2d_backward_weight";
  SPRINT_CHECK(a.dw.defined() || a.db.defined(), "{}: neither dw nor db was given", op);
  const MemoryFormat format = check_image(a.x, "x", op);
  check_image(a.dy, "dy", op);
  check_formats(stream, format, a.dy, op);
  if (a.dw.defined()) {
    check_shape(a.dy, check_geometry(a.x, a.dw, a.params, op), "conv2d dy");
  } else {
    check_params(a.params, op);
    SPRINT_CHECK(a.dy.dim(0) == a.x.dim(0), "{}: dy {} and x {} differ in batch size", op, a.dy.description(),
                 a.x.description());
  }
  if (a.db.defined()) check_vector(a.db, a.dy.dim(1), a.db.dtype(), "bias gradient db", op);
  check_floating(a.dy, op);
  check_same_dtype(a.dy.dtype(), {&a.x}, op);
  check_param_grad_dtype(a.dy.dtype(), {&a.dw, &a.db}, op);
  check_on_stream_device(stream, {&a.dy, &a.x, &a.dw, &a.db}, op);
  check_no_alias(a.dw, {&a.dy, &a.x}, op);
  check_no_alias(a.db, {&a.dy, &a.x}, op);
  kBackwardWeight.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
