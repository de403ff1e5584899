// dropout.cpp (ops): validation + dispatch for dropout.
#include "sprint/ops/dropout.h"

#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using ForwardFn = void (*)(const Stream&, const DropoutForwardArgs&);
using BackwardFn = void (*)(const Stream&, const DropoutBackwardArgs&);
using AdvanceFn = void (*)(const Stream&, const PhiloxStateAdvanceArgs&);
const BackendTable<ForwardFn> kForward{"dropout_forward", &cpu::dropout_forward,
                                       SPRINT_CUDA_IMPL(cuda::dropout_forward)};
const BackendTable<BackwardFn> kBackward{"dropout_backward", &cpu::dropout_backward,
                                         SPRINT_CUDA_IMPL(cuda::dropout_backward)};
const BackendTable<AdvanceFn> kAdvance{"philox_state_advance", &cpu::philox_state_advance,
                                       SPRINT_CUDA_IMPL(cuda::philox_state_advance)};

void check_state(const Stream& stream, const Tensor& state, const char* op) {
  SPRINT_CHECK(state.dtype() == DType::kI64 && state.shape() == Shape{2} && state.is_contiguous(),
               "{}: a Philox state must be a contiguous i64 (2) tensor {{seed, base}}, got {}", op,
               state.description());
  check_on_stream_device(stream, {&state}, op);
}

void check_pair(const Tensor& in, const Tensor& out, const DropoutMask& m, const char* op) {
  SPRINT_CHECK(m.p >= 0.0 && m.p < 1.0, "{}: drop probability must be in [0, 1), got {}", op, m.p);
  SPRINT_CHECK(in.defined() && out.defined(), "{}: undefined tensor", op);
  check_shape(out, in.shape(), "dropout output");
  check_floating(in, op);
  check_same_dtype(in.dtype(), {&out}, op);
  if (in.ndim() == 4) {
    check_same_format(check_image(in, "input", op), {&out}, op);
    check_image(out, "output", op);
  } else {
    check_contiguous({&in, &out}, op);
  }
}
}  // namespace

void dropout_forward(const Stream& stream, const DropoutForwardArgs& a) {
  constexpr const char* op = "dropout_forward";
  check_pair(a.x, a.y, a.mask, op);
  check_on_stream_device(stream, {&a.x, &a.y}, op);
  if (a.mask.state.defined()) check_state(stream, a.mask.state, op);
  check_same_or_disjoint(a.y, a.x, op);
  kForward.select(stream.device())(stream, a);
}

void dropout_backward(const Stream& stream, const DropoutBackwardArgs& a) {
  constexpr const char* op = "dropout_backward";
  check_pair(a.dy, a.dx, a.mask, op);
  check_on_stream_device(stream, {&a.dy, &a.dx}, op);
  if (a.mask.state.defined()) check_state(stream, a.mask.state, op);
  if (a.mode == GradMode::kAccumulate) {
    check_no_alias(a.dx, {&a.dy}, op);
  } else {
    check_same_or_disjoint(a.dx, a.dy, op);
  }
  kBackward.select(stream.device())(stream, a);
}

void philox_state_advance(const Stream& stream, const PhiloxStateAdvanceArgs& a) {
  constexpr const char* op = "philox_state_advance";
  SPRINT_CHECK(a.state.defined(), "{}: undefined state", op);
  check_state(stream, a.state, op);
  if (a.n_words == 0) return;
  kAdvance.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
