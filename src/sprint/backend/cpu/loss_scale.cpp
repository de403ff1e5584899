// loss_scale.cpp (CPU): the dynamic loss scaling ops of backend/api/loss_scale.h, plain loops (memory-bound;
// the reference and the fast path at once). Gradients may be f32, f64, f16 or bf16 (mixed-precision
// gradients).
#include "sprint/backend/api/loss_scale.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {

float* slots(const Tensor& state) {
  return state.data_as<float>();
}
float& slot(const Tensor& state, LossScaleSlot s) {
  return slots(state)[static_cast<int>(s)];
}

template <class T>
bool unscale_one(const Tensor& g, float inv_scale) {
  T* p = g.data_as<T>();
  const int64_t n = g.storage_numel();
  bool nonfinite = false;
  for (int64_t i = 0; i < n; ++i) {
    float v;
    if constexpr (std::is_same_v<T, f16>)
      v = f16_to_float(p[i]);
    else if constexpr (std::is_same_v<T, bf16>)
      v = bf16_to_float(p[i]);
    else
      v = static_cast<float>(p[i]);
    nonfinite |= !std::isfinite(v);
    v *= inv_scale;
    if constexpr (std::is_same_v<T, f16>)
      p[i] = f16_from_float(v);
    else if constexpr (std::is_same_v<T, bf16>)
      p[i] = bf16_from_float(v);
    else
      p[i] = static_cast<T>(static_cast<double>(p[i]) * static_cast<double>(inv_scale));
  }
  return nonfinite;
}

}  // namespace

void loss_scale_apply(const Stream&, const LossScaleApplyArgs& a) {
  const double scale = slot(a.state, LossScaleSlot::kScale);
  dispatch_floating(a.x.dtype(), "loss_scale_apply", [&](auto tag) {
    using T = decltype(tag);
    T* x = a.x.data_as<T>();
    for (int64_t i = 0; i < a.x.numel(); ++i) x[i] = static_cast<T>(x[i] * static_cast<T>(scale));
  });
}

void loss_scale_unscale(const Stream&, const LossScaleUnscaleArgs& a) {
  // PyTorch computes the reciprocal in f32 and multiplies in f32 (f64 gradients: in f64 by that f32 value).
  const float inv_scale = 1.0f / slot(a.state, LossScaleSlot::kScale);
  bool nonfinite = false;
  for (const Tensor& g : a.grads) {
    switch (g.dtype()) {
      case DType::kF32:
        nonfinite |= unscale_one<float>(g, inv_scale);
        break;
      case DType::kF64:
        nonfinite |= unscale_one<double>(g, inv_scale);
        break;
      case DType::kF16:
        nonfinite |= unscale_one<f16>(g, inv_scale);
        break;
      case DType::kBF16:
        nonfinite |= unscale_one<bf16>(g, inv_scale);
        break;
      default:
        SPRINT_THROW(Unsupported, "loss_scale_unscale: {} gradient", dtype_name(g.dtype()));
    }
  }
  if (nonfinite) slot(a.state, LossScaleSlot::kFoundInf) = 1.0f;
}

void loss_scale_update(const Stream&, const LossScaleUpdateArgs& a) {
  float& scale = slot(a.state, LossScaleSlot::kScale);
  float& tracker = slot(a.state, LossScaleSlot::kGrowthTracker);
  float& found = slot(a.state, LossScaleSlot::kFoundInf);
  if (found != 0.0f) {
    scale *= static_cast<float>(a.backoff_factor);
    tracker = 0.0f;
  } else {
    const float successful = tracker + 1.0f;
    if (successful >= static_cast<float>(a.growth_interval)) {
      const float grown = scale * static_cast<float>(a.growth_factor);
      if (std::isfinite(grown)) scale = grown;
      tracker = 0.0f;
    } else {
      tracker = successful;
    }
  }
  found = 0.0f;
}

}  // namespace sprint::cpu
