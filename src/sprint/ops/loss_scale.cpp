// loss_scale.cpp (ops): validation + dispatch for dynamic loss scaling.
#include "sprint/ops/loss_scale.h"

#include "sprint/ops/dispatch.h"

namespace sprint::ops {
namespace {
const BackendTable<void (*)(const Stream&, const LossScaleApplyArgs&)> kApply{
    "loss_scale_apply", &cpu::loss_scale_apply, SPRINT_CUDA_IMPL(cuda::loss_scale_apply)};
const BackendTable<void (*)(const Stream&, const LossScaleUnscaleArgs&)> kUnscale{
    "loss_scale_unscale", &cpu::loss_scale_unscale, SPRINT_CUDA_IMPL(cuda::loss_scale_unscale)};
const BackendTable<void (*)(const Stream&, const LossScaleUpdateArgs&)> kUpdate{
    "loss_scale_update", &cpu::loss_scale_update, SPRINT_CUDA_IMPL(cuda::loss_scale_update)};

void check_state(const Stream& s, const Tensor& state, const char* op) {
  SPRINT_CHECK(state.defined() && state.dtype() == DType::kF32 &&
                   state.shape() == Shape{kLossScaleStateCount} && state.is_contiguous(),
               "{}: the loss-scale state must be a contiguous f32 ({}) tensor, got {}", op,
               kLossScaleStateCount, state.defined() ? state.description() : std::string("nothing"));
  check_on_stream_device(s, {&state}, op);
}
}  // namespace

void loss_scale_apply(const Stream& s, const LossScaleApplyArgs& a) {
  constexpr const char* op = "loss_scale_apply";
  check_state(s, a.state, op);
  SPRINT_CHECK(a.x.defined() && a.x.is_contiguous() && dtype_is_floating(a.x.dtype()),
               "{}: expected a contiguous floating tensor, got {}", op,
               a.x.defined() ? a.x.description() : std::string("nothing"));
  check_on_stream_device(s, {&a.x}, op);
  kApply.select(s.device())(s, a);
}

void loss_scale_unscale(const Stream& s, const LossScaleUnscaleArgs& a) {
  constexpr const char* op = "loss_scale_unscale";
  check_state(s, a.state, op);
  for (const Tensor& g : a.grads) {
    SPRINT_CHECK(g.defined() && dtype_is_floating(g.dtype()) && (g.is_contiguous() || g.is_weight_blocked()),
                 "{}: gradients must be floating, contiguous or blocked weights; got {}", op,
                 g.defined() ? g.description() : std::string("nothing"));
    check_on_stream_device(s, {&g}, op);
  }
  kUnscale.select(s.device())(s, a);
}

void loss_scale_update(const Stream& s, const LossScaleUpdateArgs& a) {
  constexpr const char* op = "loss_scale_update";
  check_state(s, a.state, op);
  SPRINT_CHECK(
      a.growth_factor > 1.0 && a.backoff_factor > 0.0 && a.backoff_factor < 1.0 && a.growth_interval >= 1,
      "{}: need growth factor > 1, backoff factor in (0, 1) and growth interval >= 1; got {}, {}, {}", op,
      a.growth_factor, a.backoff_factor, a.growth_interval);
  kUpdate.select(s.device())(s, a);
}

}  // namespace sprint::ops
