// optimizer.cpp (CPU): fused SGD (momentum, Nesterov, weight decay) and Adam/AdamW updates, one pass per tensor
// (SGD split over the context's threads for large tensors).
#include "sprint/backend/api/optimizer.h"

#include <cmath>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {

template <class T>
void sgd_one(const Tensor& param, const Tensor& grad, const Tensor* buffer, const SgdHyper& h, bool first,
             const Stream& stream) {
  T* p = param.data_as<T>();
  const T* g = grad.data_as<T>();
  T* buf = buffer ? buffer->data_as<T>() : nullptr;
  const int64_t n = param.storage_numel();  // blocked weights: padding too (it stays 0)
  const T lr = static_cast<T>(h.lr), wd = static_cast<T>(h.weight_decay), m = static_cast<T>(h.momentum);
  const T damp = static_cast<T>(1.0 - h.dampening), gs = static_cast<T>(h.grad_scale);
  const int threads = elementwise_threads(stream, n);
  if (!buf) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) p[i] -= lr * (gs * g[i] + wd * p[i]);
    return;
  }
  const bool nesterov = h.nesterov;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < n; ++i) {
    const T d = gs * g[i] + wd * p[i];
    const T b = first ? d : m * buf[i] + damp * d;
    buf[i] = b;
    p[i] -= lr * (nesterov ? d + m * b : b);
  }
}

template <class T>
void adam_one(const Tensor& param, const Tensor& grad, const Tensor& m_t, const Tensor& v_t, const AdamHyper& h,
              int64_t step) {
  T* p = param.data_as<T>();
  const T* g = grad.data_as<T>();
  T* m = m_t.data_as<T>();
  T* v = v_t.data_as<T>();
  const int64_t n = param.storage_numel();  // blocked weights: padding too (it stays 0)
  const double bc1 = 1.0 - std::pow(h.beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(h.beta2, static_cast<double>(step));
  const T b1 = static_cast<T>(h.beta1), b2 = static_cast<T>(h.beta2), gs = static_cast<T>(h.grad_scale);
  const T step_size = static_cast<T>(h.lr / bc1), inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
  const T eps = static_cast<T>(h.eps), wd = static_cast<T>(h.weight_decay), lr = static_cast<T>(h.lr);
  for (int64_t i = 0; i < n; ++i) {
    T gi = gs * g[i];
    if (h.decoupled_weight_decay) p[i] -= lr * wd * p[i];
    else gi += wd * p[i];
    m[i] = b1 * m[i] + (T(1) - b1) * gi;
    v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
  }
}

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
    dispatch_floating(a.params[i].dtype(), "sgd_update", [&](auto tag) {
      sgd_one<decltype(tag)>(a.params[i], a.grads[i], with_momentum ? &a.momentum_buffers[i] : nullptr, hyper,
                             a.first_step, stream);
    });
  }
}

void adam_update(const Stream&, const AdamUpdateArgs& a) {
  int64_t step = 1;
  const AdamHyper hyper = effective(a, &step);
  for (size_t i = 0; i < a.params.size(); ++i) {
    dispatch_floating(a.params[i].dtype(), "adam_update", [&](auto tag) {
      adam_one<decltype(tag)>(a.params[i], a.grads[i], a.exp_avg[i], a.exp_avg_sq[i], hyper, step);
    });
  }
}

}  // namespace sprint::cpu
