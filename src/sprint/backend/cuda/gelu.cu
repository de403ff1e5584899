// gelu.cu (CUDA): GELU forward and backward, exact erf form, computed in f32 for every floating dtype (as the
// CPU's f32 path; f16/bf16 round once on the store).
#include "sprint/backend/api/gelu.h"

#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

template <class T>
__global__ void gelu_forward_kernel(const T* x, T* y, int64_t n) {  // y may alias x
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const float v = to_float(x[i]);
    y[i] = from_float<T>(0.5f * v * (1.0f + erff(v * kInvSqrt2)));
  }
}

template <class T>
__global__ void gelu_backward_kernel(const T* dy, const T* x, T* dx, int64_t n, bool accumulate) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {  // dx may alias dy (overwrite mode): read both before the write
    const float v = to_float(x[i]);
    const float d = 0.5f * (1.0f + erff(v * kInvSqrt2)) + v * kInvSqrt2Pi * __expf(-0.5f * v * v);
    const float g = to_float(dy[i]) * d;
    dx[i] = from_float<T>(accumulate ? to_float(dx[i]) + g : g);
  }
}

}  // namespace

void gelu_forward(const Stream& s, const GeluForwardArgs& a) {
  OpScope scope(s, "cuda.gelu_forward");
  SPRINT_CHECK(a.x.numel() == a.y.numel() && a.x.dtype() == a.y.dtype(), "gelu_forward: x {} and y {} differ",
               a.x.description(), a.y.description());
  const int64_t n = a.x.numel();
  if (n == 0) return;
  dispatch_floating(a.x.dtype(), "gelu_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gelu_forward_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(ptr<const T>(a.x), ptr<T>(a.y), n);
    SPRINT_CUDA_CHECK_LAUNCH("gelu_forward_kernel");
  });
}

void gelu_backward(const Stream& s, const GeluBackwardArgs& a) {
  OpScope scope(s, "cuda.gelu_backward");
  const int64_t n = a.dy.numel();
  SPRINT_CHECK(
      a.x.numel() == n && a.dx.numel() == n && a.x.dtype() == a.dy.dtype() && a.dx.dtype() == a.dy.dtype(),
      "gelu_backward: dy {}, x {} and dx {} differ", a.dy.description(), a.x.description(),
      a.dx.description());
  if (n == 0) return;
  dispatch_floating(a.dy.dtype(), "gelu_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gelu_backward_kernel<T><<<blocks_for(n), kThreads, 0, scope.stream()>>>(
        ptr<const T>(a.dy), ptr<const T>(a.x), ptr<T>(a.dx), n, a.mode == GradMode::kAccumulate);
    SPRINT_CUDA_CHECK_LAUNCH("gelu_backward_kernel");
  });
}

}  // namespace sprint::cuda
