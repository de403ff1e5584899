// gelu.cpp: GELU on the CPU. The reference loops (f64, reference mode, accumulation) evaluate the exact form
// in double; f32 runs oneDNN's vectorised eltwise_gelu_erf, and so does bf16 where the CPU runs bf16 natively
// (native_bf16_operands); other half operands are widened.
#include "sprint/backend/api/gelu.h"

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu {

void gelu_forward(const Stream& stream, const GeluForwardArgs& a) {
  if (native_bf16_operands(stream, {&a.x, &a.y})) return onednn::gelu_forward(stream, a);
  if (any_half({&a.x, &a.y})) {
    HalfWidening h(stream);
    gelu_forward(stream, {.x = h.in(a.x), .y = h.out(a.y)});
    return h.finish();
  }
  if (!use_reference(stream, a.x.dtype())) {
    onednn::gelu_forward(stream, a);
    return;
  }
  dispatch_floating(a.x.dtype(), "gelu_forward", [&](auto t) {
    using T = decltype(t);
    const T* x = a.x.data_as<T>();
    T* y = a.y.data_as<T>();
    const int64_t n = a.x.numel();
    const int threads = elementwise_threads(stream, n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(gelu_value(static_cast<double>(x[i])));
  });
}

void gelu_backward(const Stream& stream, const GeluBackwardArgs& a) {
  if (a.mode == GradMode::kOverwrite && native_bf16_operands(stream, {&a.dy, &a.x, &a.dx}))
    return onednn::gelu_backward(stream, a);
  if (any_half({&a.dy, &a.x, &a.dx})) {
    HalfWidening h(stream);
    gelu_backward(stream, {.dy = h.in(a.dy), .x = h.in(a.x), .dx = h.out(a.dx, a.mode), .mode = a.mode});
    return h.finish();
  }
  const bool accumulate = a.mode == GradMode::kAccumulate;
  if (!accumulate && !use_reference(stream, a.dy.dtype())) {
    onednn::gelu_backward(stream, a);
    return;
  }
  dispatch_floating(a.dy.dtype(), "gelu_backward", [&](auto t) {
    using T = decltype(t);
    const T* dy = a.dy.data_as<T>();
    const T* x = a.x.data_as<T>();
    T* dx = a.dx.data_as<T>();
    const int64_t n = a.dy.numel();
    const int threads = elementwise_threads(stream, n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) {
      const T g = static_cast<T>(static_cast<double>(dy[i]) * gelu_derivative(static_cast<double>(x[i])));
      store(dx[i], g, accumulate);
    }
  });
}

}  // namespace sprint::cpu
