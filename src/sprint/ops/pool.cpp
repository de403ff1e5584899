// pool.cpp (ops): validation + dispatch for pooling.
#include "sprint/ops/pool.h"

#include <limits>

#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using MaxForwardFn = void (*)(const Stream&, const MaxPool2dForwardArgs&);
using MaxBackwardFn = void (*)(const Stream&, const MaxPool2dBackwardArgs&);
using AvgForwardFn = void (*)(const Stream&, const AvgPool2dForwardArgs&);
using AvgBackwardFn = void (*)(const Stream&, const AvgPool2dBackwardArgs&);
using GlobalForwardFn = void (*)(const Stream&, const GlobalPoolForwardArgs&);
using GlobalBackwardFn = void (*)(const Stream&, const GlobalPoolBackwardArgs&);
const BackendTable<MaxForwardFn> kMaxForward{"max_pool2d_forward", &cpu::max_pool2d_forward,
                                             SPRINT_CUDA_IMPL(cuda::max_pool2d_forward)};
const BackendTable<MaxBackwardFn> kMaxBackward{"max_pool2d_backward", &cpu::max_pool2d_backward,
                                               SPRINT_CUDA_IMPL(cuda::max_pool2d_backward)};
const BackendTable<AvgForwardFn> kAvgForward{"avg_pool2d_forward", &cpu::avg_pool2d_forward,
                                             SPRINT_CUDA_IMPL(cuda::avg_pool2d_forward)};
const BackendTable<AvgBackwardFn> kAvgBackward{"avg_pool2d_backward", &cpu::avg_pool2d_backward,
                                               SPRINT_CUDA_IMPL(cuda::avg_pool2d_backward)};
const BackendTable<GlobalForwardFn> kGlobalAvgForward{"global_avg_pool2d_forward",
                                                      &cpu::global_avg_pool2d_forward,
                                                      SPRINT_CUDA_IMPL(cuda::global_avg_pool2d_forward)};
const BackendTable<GlobalBackwardFn> kGlobalAvgBackward{"global_avg_pool2d_backward",
                                                        &cpu::global_avg_pool2d_backward,
                                                        SPRINT_CUDA_IMPL(cuda::global_avg_pool2d_backward)};
const BackendTable<GlobalForwardFn> kGlobalMaxForward{"global_max_pool2d_forward",
                                                      &cpu::global_max_pool2d_forward,
                                                      SPRINT_CUDA_IMPL(cuda::global_max_pool2d_forward)};
const BackendTable<GlobalBackwardFn> kGlobalMaxBackward{"global_max_pool2d_backward",
                                                        &cpu::global_max_pool2d_backward,
                                                        SPRINT_CUDA_IMPL(cuda::global_max_pool2d_backward)};

// x/dx (input side) and y/dy (output side) of a windowed pooling call.
void check_windowed(const Tensor& in, const Tensor& out, const Pool2dParams& p, const char* op) {
  const MemoryFormat format = check_image(in, "input", op);
  check_shape(out, pool2d_output_shape(in.shape(), p), "pooling output");
  check_image(out, "output", op);
  check_same_format(format, {&out}, op);
  check_floating(in, op);
  check_same_dtype(in.dtype(), {&out}, op);
  SPRINT_CHECK(in.dim(2) * in.dim(3) <= std::numeric_limits<int32_t>::max(),
               "{}: {}x{} planes overflow i32 indices", op, in.dim(2), in.dim(3));
}

void check_indices(const Tensor& indices, const Tensor& out, const char* op) {
  check_shape(indices, out.shape(), "pooling indices");
  SPRINT_CHECK(indices.dtype() == DType::kI32, "{}: indices must be i32, got {}", op, indices.description());
  if (indices.ndim() == 4) {
    check_image(indices, "indices", op);
    SPRINT_CHECK(indices.strides() == out.strides(),
                 "{}: indices {} must be laid out like the pooled tensor {}", op, indices.description(),
                 out.description());
  } else {
    SPRINT_CHECK(indices.is_contiguous(), "{}: indices must be contiguous", op);
  }
}

void check_global(const Tensor& x, const Tensor& y, const char* op) {
  check_image(x, "x", op);
  check_floating(x, op);
  check_shape(y, {x.dim(0), x.dim(1)}, "global pooling output (N, C)");
  SPRINT_CHECK(y.is_contiguous(), "{}: (N, C) tensors must be contiguous", op);
  check_same_dtype(x.dtype(), {&y}, op);
  SPRINT_CHECK(x.dim(2) * x.dim(3) >= 1 && x.dim(2) * x.dim(3) <= std::numeric_limits<int32_t>::max(),
               "{}: bad spatial size {}x{}", op, x.dim(2), x.dim(3));
}
}  // namespace

Shape pool2d_output_shape(const Shape& x, const Pool2dParams& p) {
  SPRINT_CHECK(x.size() == 4, "pool2d: input must be 4-D (N, C, H, W), got {}", x.to_string());
  SPRINT_CHECK(p.kernel >= 1 && p.stride >= 1 && p.padding >= 0 && 2 * p.padding <= p.kernel,
               "pool2d: needs kernel >= 1, stride >= 1 and 0 <= padding <= kernel / 2; got {}, {}, {}",
               p.kernel, p.stride, p.padding);
  const int64_t out_h = pool2d_output_size(x[2], p), out_w = pool2d_output_size(x[3], p);
  SPRINT_CHECK(out_h >= 1 && out_w >= 1, "pool2d: a {}x{} window does not fit a {}x{} input padded by {}",
               p.kernel, p.kernel, x[2], x[3], p.padding);
  return {x[0], x[1], out_h, out_w};
}

void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& a) {
  constexpr const char* op = "max_pool2d_forward";
  check_windowed(a.x, a.y, a.params, op);
  if (a.indices.defined()) check_indices(a.indices, a.y, op);
  check_on_stream_device(stream, {&a.x, &a.y, &a.indices}, op);
  check_no_alias(a.y, {&a.x}, op);
  check_no_alias(a.indices, {&a.x, &a.y}, op);
  kMaxForward.select(stream.device())(stream, a);
}

void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& a) {
  constexpr const char* op = "max_pool2d_backward";
  check_windowed(a.dx, a.dy, a.params, op);
  check_indices(a.indices, a.dy, op);
  check_on_stream_device(stream, {&a.dy, &a.indices, &a.dx}, op);
  check_no_alias(a.dx, {&a.dy, &a.indices}, op);
  kMaxBackward.select(stream.device())(stream, a);
}

void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& a) {
  constexpr const char* op = "avg_pool2d_forward";
  check_windowed(a.x, a.y, a.params, op);
  check_on_stream_device(stream, {&a.x, &a.y}, op);
  check_no_alias(a.y, {&a.x}, op);
  kAvgForward.select(stream.device())(stream, a);
}

void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& a) {
  constexpr const char* op = "avg_pool2d_backward";
  check_windowed(a.dx, a.dy, a.params, op);
  check_on_stream_device(stream, {&a.dy, &a.dx}, op);
  check_no_alias(a.dx, {&a.dy}, op);
  kAvgBackward.select(stream.device())(stream, a);
}

void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& a) {
  constexpr const char* op = "global_avg_pool2d_forward";
  check_global(a.x, a.y, op);
  SPRINT_CHECK(!a.indices.defined(), "{}: average pooling takes no indices", op);
  check_on_stream_device(stream, {&a.x, &a.y}, op);
  check_no_alias(a.y, {&a.x}, op);
  kGlobalAvgForward.select(stream.device())(stream, a);
}

void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& a) {
  constexpr const char* op = "global_avg_pool2d_backward";
  check_global(a.dx, a.dy, op);
  check_on_stream_device(stream, {&a.dy, &a.dx}, op);
  check_no_alias(a.dx, {&a.dy}, op);
  kGlobalAvgBackward.select(stream.device())(stream, a);
}

void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& a) {
  constexpr const char* op = "global_max_pool2d_forward";
  check_global(a.x, a.y, op);
  if (a.indices.defined()) check_indices(a.indices, a.y, op);
  check_on_stream_device(stream, {&a.x, &a.y, &a.indices}, op);
  check_no_alias(a.y, {&a.x}, op);
  check_no_alias(a.indices, {&a.x, &a.y}, op);
  kGlobalMaxForward.select(stream.device())(stream, a);
}

void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& a) {
  constexpr const char* op = "global_max_pool2d_backward";
  check_global(a.dx, a.dy, op);
  check_indices(a.indices, a.dy, op);
  check_on_stream_device(stream, {&a.dy, &a.indices, &a.dx}, op);
  check_no_alias(a.dx, {&a.dy, &a.indices}, op);
  kGlobalMaxBackward.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
