// linear.cpp (CPU): y = act(x · wᵀ + b) and its backward. Reference loops (double accumulation, the oracle) and
// the fast path (f32): one sgemm per product (oneDNN or OpenBLAS, see gemm.h) plus one fused pass for bias and activation.
#include "sprint/backend/api/linear.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/gemm.h"
#include "sprint/backend/cpu/half_widening.h"

namespace sprint::cpu {

// ------------------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------------------
namespace {
template <class T>
void linear_forward_ref(const LinearForwardArgs& a) {
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  const T* x = a.x.data_as<T>();
  const T* w = a.w.data_as<T>();
  const T* b = a.b.defined() ? a.b.data_as<T>() : nullptr;
  T* y = a.y.data_as<T>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b ? static_cast<double>(b[o]) : 0.0;
      for (int64_t k = 0; k < in; ++k) acc += static_cast<double>(x[i * in + k]) * static_cast<double>(w[o * in + k]);
      y[i * out + o] = static_cast<T>(activation_forward(a.activation, acc));
    }
}

template <class T>
void linear_backward_ref(const LinearBackwardArgs& a) {
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  const T* dy = a.dy.data_as<T>();
  const T* x = a.x.data_as<T>();
  const T* w = a.w.data_as<T>();
  // Pre-activation gradient.
  std::vector<double> dpre(static_cast<size_t>(n * out));
  for (int64_t i = 0; i < n * out; ++i) {
    const double y = activation_needs_output(a.activation) ? static_cast<double>(a.y.data_as<T>()[i]) : 0.0;
    dpre[static_cast<size_t>(i)] = activation_backward_from_output(a.activation, static_cast<double>(dy[i]), y);
  }
  const bool acc_param = a.param_mode == GradMode::kAccumulate;
  if (a.dw.defined()) {
    T* dw = a.dw.data_as<T>();
    for (int64_t o = 0; o < out; ++o)
      for (int64_t k = 0; k < in; ++k) {
        double s = 0.0;
        for (int64_t i = 0; i < n; ++i) s += dpre[static_cast<size_t>(i * out + o)] * static_cast<double>(x[i * in + k]);
        store(dw[o * in + k], static_cast<T>(s), acc_param);
      }
  }
  if (a.db.defined()) {
    T* db = a.db.data_as<T>();
    for (int64_t o = 0; o < out; ++o) {
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += dpre[static_cast<size_t>(i * out + o)];
      store(db[o], static_cast<T>(s), acc_param);
    }
  }
  if (a.dx.defined()) {
    T* dx = a.dx.data_as<T>();
    const bool acc = a.dx_mode == GradMode::kAccumulate;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < in; ++k) {
        double s = 0.0;
        for (int64_t o = 0; o < out; ++o) s += dpre[static_cast<size_t>(i * out + o)] * static_cast<double>(w[o * in + k]);
        store(dx[i * in + k], static_cast<T>(s), acc);
      }
  }
}
}  // namespace

namespace ref {
void linear_forward(const LinearForwardArgs& args) {
  dispatch_floating(args.x.dtype(), "linear_forward", [&](auto t) { linear_forward_ref<decltype(t)>(args); });
}
void linear_backward(const LinearBackwardArgs& args) {
  dispatch_floating(args.x.dtype(), "linear_backward", [&](auto t) { linear_backward_ref<decltype(t)>(args); });
}
}  // namespace ref

// ------------------------------------------------------------------------------------------------------------
// Fast path (f32, sgemm)
// ------------------------------------------------------------------------------------------------------------
void linear_forward(const Stream& stream, const LinearForwardArgs& a) {
  if (any_half({&a.x, &a.w, &a.b, &a.y})) {
    HalfWidening h(stream);
    linear_forward(stream,
                   {.x = h.in(a.x), .w = h.in(a.w), .b = h.in(a.b), .y = h.out(a.y), .activation = a.activation});
    return h.finish();
  }
  if (use_reference(stream, a.x.dtype())) return ref::linear_forward(a);
  sync_threads(stream);
  const int n = static_cast<int>(a.x.dim(0)), in = static_cast<int>(a.x.dim(1)), out = static_cast<int>(a.w.dim(0));
  float* y = a.y.data_as<float>();
  sgemm(stream, false, true, n, out, in, 1.0f, a.x.data_as<float>(), in, a.w.data_as<float>(), in, 0.0f, y, out);
  const float* b = a.b.defined() ? a.b.data_as<float>() : nullptr;
  bool relu = false;
  switch (a.activation) {
    case Activation::kNone: break;
    case Activation::kReLU: relu = true; break;
  }
  if (!b && !relu) return;
  for (int i = 0; i < n; ++i) {
    float* row = y + static_cast<int64_t>(i) * out;
    if (b && relu) {
      for (int o = 0; o < out; ++o) row[o] = std::max(row[o] + b[o], 0.0f);
    } else if (b) {
      for (int o = 0; o < out; ++o) row[o] += b[o];
    } else {
      for (int o = 0; o < out; ++o) row[o] = std::max(row[o], 0.0f);
    }
  }
}

void linear_backward(const Stream& stream, const LinearBackwardArgs& a) {
  if (any_half({&a.dy, &a.x, &a.w, &a.y, &a.dx, &a.dw, &a.db})) {
    HalfWidening h(stream);
    linear_backward(stream, {.dy = h.in(a.dy),
                             .x = h.in(a.x),
                             .w = h.in(a.w),
                             .y = h.in(a.y),
                             .scratch = h.scratch(a.scratch),
                             .dx = h.out(a.dx, a.dx_mode),
                             .dw = h.out(a.dw, a.param_mode),
                             .db = h.out(a.db, a.param_mode),
                             .activation = a.activation,
                             .dx_mode = a.dx_mode,
                             .param_mode = a.param_mode});
    return h.finish();
  }
  if (use_reference(stream, a.x.dtype())) return ref::linear_backward(a);
  sync_threads(stream);
  const int n = static_cast<int>(a.x.dim(0)), in = static_cast<int>(a.x.dim(1)), out = static_cast<int>(a.w.dim(0));
  const float* dpre = a.dy.data_as<float>();
  switch (a.activation) {
    case Activation::kNone: break;
    case Activation::kReLU: {
      float* g = a.scratch.data_as<float>();
      const float* dy = a.dy.data_as<float>();
      const float* y = a.y.data_as<float>();
      const int64_t total = static_cast<int64_t>(n) * out;
      for (int64_t i = 0; i < total; ++i) g[i] = y[i] > 0.0f ? dy[i] : 0.0f;
      dpre = g;
      break;
    }
  }
  const float beta_param = a.param_mode == GradMode::kAccumulate ? 1.0f : 0.0f;
  if (a.dw.defined())
    sgemm(stream, true, false, out, in, n, 1.0f, dpre, out, a.x.data_as<float>(), in, beta_param,
          a.dw.data_as<float>(), in);
  if (a.db.defined()) {
    float* db = a.db.data_as<float>();
    if (beta_param == 0.0f) std::memset(db, 0, sizeof(float) * static_cast<size_t>(out));
    for (int i = 0; i < n; ++i) {
      const float* row = dpre + static_cast<int64_t>(i) * out;
      for (int o = 0; o < out; ++o) db[o] += row[o];
    }
  }
  if (a.dx.defined())
    sgemm(stream, false, false, n, in, out, 1.0f, dpre, out, a.w.data_as<float>(), in,
          a.dx_mode == GradMode::kAccumulate ? 1.0f : 0.0f, a.dx.data_as<float>(), in);
}

}  // namespace sprint::cpu
