// linear.cpp (ops): validation + dispatch for the fully connected layer.
#include "sprint/ops/linear.h"

namespace sprint::ops {
namespace {
using ForwardFn = void (*)(const Stream&, const LinearForwardArgs&);
using BackwardFn = void (*)(const Stream&, const LinearBackwardArgs&);
const BackendTable<ForwardFn> kForward{"linear_forward", &cpu::linear_forward,
                                           SPRINT_CUDA_IMPL(cuda::linear_forward)};
const BackendTable<BackwardFn> kBackward{"linear_backward", &cpu::linear_backward,
                                             SPRINT_CUDA_IMPL(cuda::linear_backward)};
}  // namespace

void linear_forward(const Stream& stream, const LinearForwardArgs& a) {
  constexpr const char* op = "linear_forward";
  SPRINT_CHECK(a.x.ndim() == 2 && a.w.ndim() == 2, "{}: x (N, I) and w (O, I) must be 2-D, got {} and {}", op,
               a.x.description(), a.w.description());
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  SPRINT_CHECK(a.w.dim(1) == in, "{}: x has {} features but w expects {}", op, in, a.w.dim(1));
  if (a.b.defined()) check_shape(a.b, {out}, "linear bias");
  check_shape(a.y, {n, out}, "linear output");
  check_floating(a.x, op);
  check_same_dtype(a.x.dtype(), {&a.w, &a.b, &a.y}, op);
  check_on_stream_device(stream, {&a.x, &a.w, &a.b, &a.y}, op);
  check_contiguous({&a.x, &a.w, &a.b, &a.y}, op);
  check_no_alias(a.y, {&a.x, &a.w}, op);
  kForward.select(stream.device())(stream, a);
}

void linear_backward(const Stream& stream, const LinearBackwardArgs& a) {
  constexpr const char* op = "linear_backward";
  SPRINT_CHECK(a.x.ndim() == 2 && a.w.ndim() == 2, "{}: x and w must be 2-D", op);
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  check_shape(a.dy, {n, out}, "linear dy");
  if (activation_needs_output(a.activation)) {
    check_shape(a.y, {n, out}, "linear y (needed for the activation's gradient)");
    check_shape(a.scratch, {n, out}, "linear backward scratch");
  }
  if (a.dx.defined()) check_shape(a.dx, {n, in}, "linear dx");
  if (a.dw.defined()) check_shape(a.dw, {out, in}, "linear dw");
  if (a.db.defined()) check_shape(a.db, {out}, "linear db");
  check_floating(a.x, op);
  check_same_dtype(a.x.dtype(), {&a.dy, &a.w, &a.y, &a.scratch, &a.dx}, op);
  check_param_grad_dtype(a.x.dtype(), {&a.dw, &a.db}, op);
  check_on_stream_device(stream, {&a.dy, &a.x, &a.w, &a.y, &a.scratch, &a.dx, &a.dw, &a.db}, op);
  check_contiguous({&a.dy, &a.x, &a.w, &a.y, &a.scratch, &a.dx, &a.dw, &a.db}, op);
  kBackward.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
