// optimizer.cpp (CPU): fused SGD (momentum, Nesterov, weight decay) and Adam/AdamW updates, one pass per tensor
// (SGD split over the context's threads for large tensors); with mixed precision the pass reads the gradient (f32,
// or f16/bf16), updates the f32 master and state, and writes the rounded f16/bf16 compute copy.
#include "sprint/backend/api/optimizer.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {

// Gradient and compute-copy elements: the parameter's own type, or f16/bf16 beside an f32 master.
template <class P, class G>
inline P load_grad(G g) {
  if constexpr (std::is_same_v<G, f16>) return f16_to_float(g);
  else if constexpr (std::is_same_v<G, bf16>) return bf16_to_float(g);
  else return static_cast<P>(g);
}
template <class G, class P>
inline G round_to(P v) {
  if constexpr (std::is_same_v<G, f16>) return f16_from_float(static_cast<float>(v));
  else if constexpr (std::is_same_v<G, bf16>) return bf16_from_float(static_cast<float>(v));
  else return static_cast<G>(v);
}

// P: parameter and state type; G: gradient type (P, or a half type with an f32 master); C: the compute copy's type
// (an optional output: a half type with an f32 master); mask: optional P (1: train the entry, 0: see
// UpdateMaskMode).
template <class P, class G, class C>
void sgd_one(const Tensor& param, const Tensor& grad, const Tensor* buffer, const Tensor* copy_t,
             const Tensor* mask_t, UpdateMaskMode mode, const SgdHyper& h, bool first, const Stream& stream) {
  P* p = param.data_as<P>();
  const G* g = grad.data_as<G>();
  P* buf = buffer ? buffer->data_as<P>() : nullptr;
  C* copy = copy_t ? copy_t->data_as<C>() : nullptr;
  const P* mask = mask_t ? mask_t->data_as<P>() : nullptr;
  const bool freeze = mode == UpdateMaskMode::kFreeze;
  const int64_t n = param.storage_numel();  // blocked weights: padding too (it stays 0)
  const P lr = static_cast<P>(h.lr), wd = static_cast<P>(h.weight_decay), m = static_cast<P>(h.momentum);
  const P damp = static_cast<P>(1.0 - h.dampening), gs = static_cast<P>(h.grad_scale);
  const int threads = elementwise_threads(stream, n);
  const bool nesterov = h.nesterov;
  // One entry, its gradient multiplied by keep (1 without a mask).
  const auto update = [&](int64_t i, P keep) {
    const P d = gs * keep * load_grad<P>(g[i]) + wd * p[i];
    if (buf) {
      const P b = first ? d : m * buf[i] + damp * d;
      buf[i] = b;
      p[i] -= lr * (nesterov ? d + m * b : b);
    } else {
      p[i] -= lr * d;
    }
    if (copy) copy[i] = round_to<C>(p[i]);
  };
  if (mask == nullptr) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) update(i, P(1));
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < n; ++i) {
    if (freeze && mask[i] == P(0)) {
      if (first && buf) buf[i] = P(0);  // a buffer made now holds no stale memory
      continue;
    }
    update(i, freeze ? P(1) : mask[i]);
  }
}

template <class P, class G, class C>
void adam_one(const Tensor& param, const Tensor& grad, const Tensor& m_t, const Tensor& v_t, const Tensor* copy_t,
              const Tensor* mask_t, UpdateMaskMode mode, const AdamHyper& h, int64_t step) {
  const P* mask = mask_t ? mask_t->data_as<P>() : nullptr;
  const bool freeze = mode == UpdateMaskMode::kFreeze;
  P* p = param.data_as<P>();
  const G* g = grad.data_as<G>();
  P* m = m_t.data_as<P>();
  P* v = v_t.data_as<P>();
  C* copy = copy_t ? copy_t->data_as<C>() : nullptr;
  const int64_t n = param.storage_numel();  // blocked weights: padding too (it stays 0)
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  const P b1 = static_cast<P>(h.beta1), b2 = static_cast<P>(h.beta2), gs = static_cast<P>(h.grad_scale);
  const P step_size = static_cast<P>(h.lr / bc1), inv_sqrt_bc2 = static_cast<P>(1.0 / std::sqrt(bc2));
  const P eps = static_cast<P>(h.eps), wd = static_cast<P>(h.weight_decay), lr = static_cast<P>(h.lr);
  for (int64_t i = 0; i < n; ++i) {
    P keep = P(1);
    if (mask != nullptr) {
      if (freeze && mask[i] == P(0)) continue;  // Adam's moments are made as zeros: nothing to clear
      if (!freeze) keep = mask[i];
    }
    P gi = gs * keep * load_grad<P>(g[i]);
    if (h.decoupled_weight_decay) p[i] -= lr * wd * p[i];
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (P(1) - b1) * gi;
    v[i] = b2 * v[i] + (P(1) - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
    if (copy) copy[i] = round_to<C>(p[i]);
  }
}

// Calls f(P{}, G{}, C{}) for the parameter / gradient / compute-copy dtypes: all equal (f32 or f64, no copy), or an
// f32 master and state with an f32 or f16/bf16 gradient and an f16/bf16 compute copy (mixed precision).
template <class F>
void dispatch_update(DType param, DType grad, const Tensor* copy, const char* op, F&& f) {
  const auto with_copy = [&](auto p, auto g) {
    if (copy == nullptr) return f(p, g, g);
    switch (copy->dtype()) {
      case DType::kF16: return f(p, g, f16{});
      case DType::kBF16: return f(p, g, bf16{});
      default: SPRINT_THROW(Unsupported, "{}: a {} compute copy", op, dtype_name(copy->dtype()));
    }
  };
  if (param == grad) return dispatch_floating(param, op, [&](auto t) { with_copy(t, t); });
  SPRINT_CHECK(param == DType::kF32, "{}: a {} gradient needs an f32 master parameter, got {}", op, dtype_name(grad),
               dtype_name(param));
  switch (grad) {
    case DType::kF16: return with_copy(float{}, f16{});
    case DType::kBF16: return with_copy(float{}, bf16{});
    default: SPRINT_THROW(Unsupported, "{}: an f32 parameter with a {} gradient", op, dtype_name(grad));
  }
}

const Tensor* copy_of(std::span<const Tensor> copies, size_t i) {
  return copies.empty() || !copies[i].defined() ? nullptr : &copies[i];
}
const Tensor* mask_of(std::span<const Tensor> masks, size_t i) { return copy_of(masks, i); }

/// The hyperparameters of this update: per-step values from the step tensor when one is given, lr scaled.
SgdHyper effective(const SgdUpdateArgs& a) {
  SgdHyper h = a.hyper;
  if (a.step_values.defined()) {
    const double* v = a.step_values.data_as<double>();
    h.lr = v[static_cast<int>(StepValue::kLr)];
    h.momentum = v[static_cast<int>(StepValue::kMomentum)];
    h.grad_scale = v[static_cast<int>(StepValue::kGradScale)];
  }
  h.lr *= h.lr_scale;
  return h;
}

AdamHyper effective(const AdamUpdateArgs& a, int64_t* step) {
  AdamHyper h = a.hyper;
  *step = a.step;
  if (a.step_values.defined()) {
    const double* v = a.step_values.data_as<double>();
    h.lr = v[static_cast<int>(StepValue::kLr)];
    h.beta1 = v[static_cast<int>(StepValue::kMomentum)];
    h.grad_scale = v[static_cast<int>(StepValue::kGradScale)];
    *step = static_cast<int64_t>(v[static_cast<int>(StepValue::kStep)]);
    SPRINT_CHECK(*step >= 1, "adam_update: step must be >= 1, got {}", *step);
  }
  h.lr *= h.lr_scale;
  return h;
}

}  // namespace

void sgd_update(const Stream& stream, const SgdUpdateArgs& a) {
  const bool with_momentum = a.hyper.momentum != 0.0;  // buffers kept (the step's momentum may still vary)
  const SgdHyper hyper = effective(a);
  SPRINT_CHECK(!with_momentum || a.momentum_buffers.size() == a.params.size(),
               "sgd_update: {} momentum buffers for {} parameters", a.momentum_buffers.size(), a.params.size());
  for (size_t i = 0; i < a.params.size(); ++i) {
    const Tensor* copy = copy_of(a.compute_copies, i);
    dispatch_update(a.params[i].dtype(), a.grads[i].dtype(), copy, "sgd_update", [&](auto p, auto g, auto c) {
      sgd_one<decltype(p), decltype(g), decltype(c)>(a.params[i], a.grads[i],
                                                     with_momentum ? &a.momentum_buffers[i] : nullptr, copy,
                                                     mask_of(a.masks, i), a.mask_mode, hyper, a.first_step, stream);
    });
  }
}

void adam_update(const Stream&, const AdamUpdateArgs& a) {
  int64_t step = 1;
  const AdamHyper hyper = effective(a, &step);
  for (size_t i = 0; i < a.params.size(); ++i) {
    const Tensor* copy = copy_of(a.compute_copies, i);
    dispatch_update(a.params[i].dtype(), a.grads[i].dtype(), copy, "adam_update", [&](auto p, auto g, auto c) {
      adam_one<decltype(p), decltype(g), decltype(c)>(a.params[i], a.grads[i], a.exp_avg[i], a.exp_avg_sq[i], copy,
                                                      mask_of(a.masks, i), a.mask_mode, hyper, step);
    });
  }
}

void step_values_select(const Stream&, const StepValuesSelectArgs& a) {
  const int64_t rows = a.table.dim(0);
  int64_t* cursor = a.cursor.data_as<int64_t>();
  const int64_t row = std::clamp<int64_t>(*cursor, 0, rows - 1);
  std::copy_n(a.table.data_as<double>() + row * kStepValueCount, kStepValueCount, a.out.data_as<double>());
  ++*cursor;
}

}  // namespace sprint::cpu
