// loss_scale.cu (CUDA): the dynamic loss scaling ops of backend/api/loss_scale.h. Every kernel reads the
// scale from the state tensor when it runs (nothing baked into the launch), so a captured graph replays them
// with the scale the last update left. Gradients: f32, f16 or bf16, element-wise over the storage.
#include "sprint/backend/api/loss_scale.h"

#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

template <class T>
__global__ void apply_kernel(T* x, int64_t n, const float* state) {
  const float scale = state[static_cast<int>(LossScaleSlot::kScale)];
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    x[i] = from_float<T>(to_float(x[i]) * scale);
  }
}

template <class T>
__global__ void unscale_kernel(T* g, int64_t n, float* state) {
  const float inv_scale = 1.0f / state[static_cast<int>(LossScaleSlot::kScale)];
  bool nonfinite = false;
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const float v = to_float(g[i]);
    nonfinite |= !isfinite(v);
    g[i] = from_float<T>(v * inv_scale);
  }
  if (nonfinite)
    state[static_cast<int>(LossScaleSlot::kFoundInf)] = 1.0f;  // every writer stores the same value
}

__global__ void update_kernel(float* state, float growth_factor, float backoff_factor,
                              float growth_interval) {
  float& scale = state[static_cast<int>(LossScaleSlot::kScale)];
  float& tracker = state[static_cast<int>(LossScaleSlot::kGrowthTracker)];
  float& found = state[static_cast<int>(LossScaleSlot::kFoundInf)];
  if (found != 0.0f) {
    scale *= backoff_factor;
    tracker = 0.0f;
  } else {
    const float successful = tracker + 1.0f;
    if (successful >= growth_interval) {
      const float grown = scale * growth_factor;
      if (isfinite(grown)) scale = grown;
      tracker = 0.0f;
    } else {
      tracker = successful;
    }
  }
  found = 0.0f;
}

}  // namespace

void loss_scale_apply(const Stream& s, const LossScaleApplyArgs& a) {
  OpScope scope(s, "cuda.loss_scale_apply");
  const int64_t n = a.x.numel();
  if (n == 0) return;
  dispatch_floating(a.x.dtype(), "loss_scale_apply", [&](auto tag) {
    using T = typename decltype(tag)::type;
    apply_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(ptr<T>(a.x), n, a.state.data_as<float>());
    SPRINT_CUDA_CHECK_LAUNCH("loss_scale apply_kernel");
  });
}

void loss_scale_unscale(const Stream& s, const LossScaleUnscaleArgs& a) {
  OpScope scope(s, "cuda.loss_scale_unscale");
  for (const Tensor& g : a.grads) {
    const int64_t n = g.storage_numel();
    if (n == 0) continue;
    dispatch_floating(g.dtype(), "loss_scale_unscale", [&](auto tag) {
      using T = typename decltype(tag)::type;
      unscale_kernel<T>
          <<<blocks_for(n), kThreads, 0, scope.stream()>>>(ptr<T>(g), n, a.state.data_as<float>());
      SPRINT_CUDA_CHECK_LAUNCH("loss_scale unscale_kernel");
    });
  }
}

void loss_scale_update(const Stream& s, const LossScaleUpdateArgs& a) {
  OpScope scope(s, "cuda.loss_scale_update");
  update_kernel<<<1, 1, 0, scope.stream()>>>(a.state.data_as<float>(), static_cast<float>(a.growth_factor),
                                             static_cast<float>(a.backoff_factor),
                                             static_cast<float>(a.growth_interval));
  SPRINT_CUDA_CHECK_LAUNCH("loss_scale update_kernel");
}

}  // namespace sprint::cuda
