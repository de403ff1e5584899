// norm.cpp (CPU): BatchNorm2d forward (training / inference) and backward. The reference loops accumulate in
// double over any strides (the oracle); f32 calls go to oneDNN (onednn_norm.cpp).
#include "sprint/backend/api/norm.h"

#include <cmath>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu {

// ------------------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------------------
namespace {

/// Calls f(offset) for every element of channel c of a 4-D tensor.
template <class F>
void for_each_in_channel(const Tensor& t, int64_t c, F&& f) {
  const Offsets4d o = offsets4d(t);
  for (int64_t n = 0; n < t.dim(0); ++n)
    for (int64_t h = 0; h < t.dim(2); ++h)
      for (int64_t w = 0; w < t.dim(3); ++w) f(o(n, c, h, w));
}

template <class P>
double param_or(const Tensor& t, int64_t c, double fallback) {
  return t.defined() ? static_cast<double>(t.data_as<P>()[c]) : fallback;
}

// T: activation type, P: per-channel type (norm_param_dtype).
template <class T, class P = T>
void batch_norm_training_ref(const BatchNormTrainingArgs& a) {
  const int64_t channels = a.x.dim(1);
  const double m = static_cast<double>(a.x.dim(0) * a.x.dim(2) * a.x.dim(3));
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for_each_in_channel(a.x, c, [&](int64_t i) { sum += static_cast<double>(x[i]); });
    const double mean = sum / m;
    double sq = 0.0;
    for_each_in_channel(a.x, c, [&](int64_t i) {
      const double d = static_cast<double>(x[i]) - mean;
      sq += d * d;
    });
    const double var = sq / m;  // biased: used to normalise
    const double invstd = 1.0 / std::sqrt(var + a.eps);
    const double g = param_or<P>(a.gamma, c, 1.0), b = param_or<P>(a.beta, c, 0.0);
    // y may alias x: each element is read once, then written.
    const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w)
          y[yo(n, c, h, w)] =
              static_cast<T>((static_cast<double>(x[xo(n, c, h, w)]) - mean) * invstd * g + b);
    a.save_mean.data_as<P>()[c] = static_cast<P>(mean);
    a.save_invstd.data_as<P>()[c] = static_cast<P>(invstd);
    if (a.running_mean.defined()) {
      P& rm = a.running_mean.data_as<P>()[c];
      P& rv = a.running_var.data_as<P>()[c];
      rm = static_cast<P>((1.0 - a.momentum) * static_cast<double>(rm) + a.momentum * mean);
      rv = static_cast<P>((1.0 - a.momentum) * static_cast<double>(rv) + a.momentum * var * m / (m - 1.0));
    }
  }
}

template <class T, class P = T>
void batch_norm_inference_ref(const BatchNormInferenceArgs& a) {
  const int64_t channels = a.x.dim(1);
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = static_cast<double>(a.running_mean.data_as<P>()[c]);
    const double invstd = 1.0 / std::sqrt(static_cast<double>(a.running_var.data_as<P>()[c]) + a.eps);
    const double g = param_or<P>(a.gamma, c, 1.0), b = param_or<P>(a.beta, c, 0.0);
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w)
          y[yo(n, c, h, w)] =
              static_cast<T>((static_cast<double>(x[xo(n, c, h, w)]) - mean) * invstd * g + b);
    if (a.save_mean.defined()) a.save_mean.data_as<P>()[c] = static_cast<P>(mean);
    if (a.save_invstd.defined()) a.save_invstd.data_as<P>()[c] = static_cast<P>(invstd);
  }
}

template <class T, class P = T>
void batch_norm_backward_ref(const BatchNormBackwardArgs& a) {
  const int64_t channels = a.x.dim(1);
  const double m = static_cast<double>(a.x.dim(0) * a.x.dim(2) * a.x.dim(3));
  const T* x = a.x.data_as<T>();
  const T* dy = a.dy.data_as<T>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.dy);
  const bool acc_param = a.param_mode == GradMode::kAccumulate;
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = static_cast<double>(a.save_mean.data_as<P>()[c]);
    const double invstd = static_cast<double>(a.save_invstd.data_as<P>()[c]);
    const double g = param_or<P>(a.gamma, c, 1.0);
    double dbeta = 0.0, dgamma = 0.0;
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w) {
          const double d = static_cast<double>(dy[yo(n, c, h, w)]);
          dbeta += d;
          dgamma += d * (static_cast<double>(x[xo(n, c, h, w)]) - mean) * invstd;
        }
    if (a.dgamma.defined()) store(a.dgamma.data_as<P>()[c], static_cast<P>(dgamma), acc_param);
    if (a.dbeta.defined()) store(a.dbeta.data_as<P>()[c], static_cast<P>(dbeta), acc_param);
    if (!a.dx.defined()) continue;
    T* dx = a.dx.data_as<T>();
    const Offsets4d dxo = offsets4d(a.dx);
    const bool acc = a.dx_mode == GradMode::kAccumulate;
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w) {
          const double d = static_cast<double>(dy[yo(n, c, h, w)]);
          double g_in = g * invstd * d;
          if (a.use_batch_stats) {
            const double xhat = (static_cast<double>(x[xo(n, c, h, w)]) - mean) * invstd;
            g_in = g * invstd * (d - dbeta / m - xhat * dgamma / m);
          }
          store(dx[dxo(n, c, h, w)], static_cast<T>(g_in), acc);
        }
  }
}

}  // namespace

namespace ref {
void batch_norm_forward_training(const BatchNormTrainingArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_forward_training",
                    [&](auto t) { batch_norm_training_ref<decltype(t)>(args); });
}
void batch_norm_forward_inference(const BatchNormInferenceArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_forward_inference",
                    [&](auto t) { batch_norm_inference_ref<decltype(t)>(args); });
}
void batch_norm_backward(const BatchNormBackwardArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_backward",
                    [&](auto t) { batch_norm_backward_ref<decltype(t)>(args); });
}
}  // namespace ref

// ------------------------------------------------------------------------------------------------------------
// Dispatch: oneDNN for f32, the reference for f64 (and in reference mode); bf16 activations run oneDNN's bf16
// kernels where the CPU has AMX-BF16 (native_bf16_operands), other f16/bf16 activations are widened to f32 around
// the call (half_widening.h), the per-channel tensors being f32 already
// ------------------------------------------------------------------------------------------------------------
void batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& args) {
  if (any_half({&args.x, &args.y})) {
    if (native_bf16_operands(stream, {&args.x, &args.y}) && onednn::batch_norm_forward_training(stream, args))
      return;
    HalfWidening h(stream);
    batch_norm_forward_training(stream, {.x = h.in(args.x),
                                         .gamma = args.gamma,
                                         .beta = args.beta,
                                         .y = h.out(args.y),
                                         .running_mean = args.running_mean,
                                         .running_var = args.running_var,
                                         .save_mean = args.save_mean,
                                         .save_invstd = args.save_invstd,
                                         .eps = args.eps,
                                         .momentum = args.momentum});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::batch_norm_forward_training(args);
  onednn::batch_norm_forward_training(stream, args);
}

void batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& args) {
  if (any_half({&args.x, &args.y})) {
    if (native_bf16_operands(stream, {&args.x, &args.y}) && onednn::batch_norm_forward_inference(stream, args))
      return;
    HalfWidening h(stream);
    batch_norm_forward_inference(stream, {.x = h.in(args.x),
                                          .gamma = args.gamma,
                                          .beta = args.beta,
                                          .y = h.out(args.y),
                                          .running_mean = args.running_mean,
                                          .running_var = args.running_var,
                                          .save_mean = args.save_mean,
                                          .save_invstd = args.save_invstd,
                                          .eps = args.eps});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::batch_norm_forward_inference(args);
  onednn::batch_norm_forward_inference(stream, args);
}

void batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& args) {
  if (any_half({&args.dy, &args.x, &args.dx})) {
    if (native_bf16_operands(stream, {&args.dy, &args.x, &args.dx}) && onednn::batch_norm_backward(stream, args))
      return;
    HalfWidening h(stream);
    batch_norm_backward(stream, {.dy = h.in(args.dy),
                                 .x = h.in(args.x),
                                 .gamma = args.gamma,
                                 .save_mean = args.save_mean,
                                 .save_invstd = args.save_invstd,
                                 .dx = h.out(args.dx, args.dx_mode),
                                 .dgamma = args.dgamma,
                                 .dbeta = args.dbeta,
                                 .use_batch_stats = args.use_batch_stats,
                                 .dx_mode = args.dx_mode,
                                 .param_mode = args.param_mode});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::batch_norm_backward(args);
  onednn::batch_norm_backward(stream, args);
}

}  // namespace sprint::cpu
