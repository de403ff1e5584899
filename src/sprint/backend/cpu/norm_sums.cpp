// norm_sums.cpp (CPU): batch norm around its per-channel sums (backend/api/norm_sums.h). The reference: one set
// of loops over any layout (layout4d.h), accumulating in double per channel, on one thread. The fast path (dense
// f32 NCHW, NHWC and channel-blocked tensors, norm_sums_planes.h) walks memory in order, plane by plane, with
// vectorisable inner loops over consecutive channels (or pixels), planes split over threads and their partial
// sums added in plane order (the same bits for any thread count); other f32/f64 tensors take the reference's loops
// threaded over channels. f16/bf16 activations are widened to f32 around the call (half_widening.h).
#include "sprint/backend/api/norm_sums.h"

#include <algorithm>
#include <cmath>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/norm_sums_planes.h"

namespace sprint::cpu {
namespace {

/// Calls f(offset) for every element of channel c of a 4-D tensor, in (n, h, w) order.
template <class F>
void for_each_in_channel(const Offsets4d& o, const Tensor& t, int64_t c, F&& f) {
  for (int64_t n = 0; n < t.dim(0); ++n)
    for (int64_t h = 0; h < t.dim(2); ++h)
      for (int64_t w = 0; w < t.dim(3); ++w) f(o(n, c, h, w));
}

/// Runs f(c) for every channel on `threads` threads (results independent of the count).
template <class F>
void for_each_channel(int64_t channels, int threads, F&& f) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t c = 0; c < channels; ++c) f(c);
}

template <class P>
double param_or(const Tensor& t, int64_t c, double fallback) {
  return t.defined() ? static_cast<double>(t.data_as<P>()[c]) : fallback;
}

double values_per_channel(const Tensor& x) { return static_cast<double>(x.dim(0) * x.dim(2) * x.dim(3)); }

// T: activation type (float or double); per-channel tensors are T too (norm_param_dtype).
template <class T>
void sums_loops(const BatchNormSumsArgs& a, int threads) {
  const int64_t channels = a.x.dim(1);
  const T* x = a.x.data_as<T>();
  double* sums = a.sums.data_as<double>();
  const Offsets4d o = offsets4d(a.x);
  for_each_channel(channels, threads, [&](int64_t c) {
    double s = 0.0, sq = 0.0;
    for_each_in_channel(o, a.x, c, [&](int64_t i) {
      const double v = static_cast<double>(x[i]);
      s += v;
      sq += v * v;
    });
    sums[c] = s;
    sums[channels + c] = sq;
  });
  sums[2 * channels] = values_per_channel(a.x);
}

template <class P>
void statistics_loops(const BatchNormStatisticsArgs& a) {
  const int64_t channels = a.mean.dim(0);
  const double* sums = a.sums.data_as<double>();
  const double m = sums[2 * channels];
  SPRINT_CHECK(m >= 2.0, "batch_norm_statistics: training needs more than one value per channel, got {}", m);
  for (int64_t c = 0; c < channels; ++c) {
    const double mean = sums[c] / m;
    const double var = std::max(sums[channels + c] / m - mean * mean, 0.0);
    a.mean.data_as<P>()[c] = static_cast<P>(mean);
    a.var.data_as<P>()[c] = static_cast<P>(var);
    if (a.running_mean.defined()) {
      P& rm = a.running_mean.data_as<P>()[c];
      P& rv = a.running_var.data_as<P>()[c];
      rm = static_cast<P>((1.0 - a.momentum) * static_cast<double>(rm) + a.momentum * mean);
      rv = static_cast<P>((1.0 - a.momentum) * static_cast<double>(rv) + a.momentum * var * m / (m - 1.0));
    }
  }
}

template <class T>
void backward_sums_loops(const BatchNormBackwardSumsArgs& a, int threads) {
  const int64_t channels = a.x.dim(1);
  const T* x = a.x.data_as<T>();
  const T* dy = a.dy.data_as<T>();
  double* sums = a.sums.data_as<double>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.dy);
  const bool acc = a.param_mode == GradMode::kAccumulate;
  for_each_channel(channels, threads, [&](int64_t c) {
    const double mean = static_cast<double>(a.save_mean.data_as<T>()[c]);
    const double invstd = static_cast<double>(a.save_invstd.data_as<T>()[c]);
    double s = 0.0, sx = 0.0;
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w) {
          const double d = static_cast<double>(dy[yo(n, c, h, w)]);
          s += d;
          sx += d * (static_cast<double>(x[xo(n, c, h, w)]) - mean);
        }
    sx *= invstd;
    sums[c] = s;
    sums[channels + c] = sx;
    if (a.dbeta.defined()) store(a.dbeta.data_as<T>()[c], static_cast<T>(s), acc);
    if (a.dgamma.defined()) store(a.dgamma.data_as<T>()[c], static_cast<T>(sx), acc);
  });
  sums[2 * channels] = values_per_channel(a.x);
}

template <class T>
void input_grad_loops(const BatchNormInputGradArgs& a, int threads) {
  const int64_t channels = a.x.dim(1);
  const T* x = a.x.data_as<T>();
  const T* dy = a.dy.data_as<T>();
  T* dx = a.dx.data_as<T>();
  const double* sums = a.sums.data_as<double>();
  const double m = sums[2 * channels];
  SPRINT_CHECK(m >= 1.0, "batch_norm_input_grad: the sums count {} values per channel", m);
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.dy), dxo = offsets4d(a.dx);
  const bool acc = a.dx_mode == GradMode::kAccumulate;
  for_each_channel(channels, threads, [&](int64_t c) {
    const double mean = static_cast<double>(a.save_mean.data_as<T>()[c]);
    const double invstd = static_cast<double>(a.save_invstd.data_as<T>()[c]);
    const double k = param_or<T>(a.gamma, c, 1.0) * invstd;
    const double mean_dy = sums[c] / m, mean_dy_xhat = sums[channels + c] / m;
    for (int64_t n = 0; n < a.x.dim(0); ++n)
      for (int64_t h = 0; h < a.x.dim(2); ++h)
        for (int64_t w = 0; w < a.x.dim(3); ++w) {
          const double xhat = (static_cast<double>(x[xo(n, c, h, w)]) - mean) * invstd;
          const double g = k * (static_cast<double>(dy[yo(n, c, h, w)]) - mean_dy - xhat * mean_dy_xhat);
          store(dx[dxo(n, c, h, w)], static_cast<T>(g), acc);
        }
  });
  if (!acc && a.dx.dtype() == DType::kF32) zero_channel_padding(a.dx);  // a fresh blocked dx: padding is 0
}

int threads_for(const Stream& stream, const Tensor& x) {
  return use_reference(stream, x.dtype()) ? 1 : elementwise_threads(stream, x.numel());
}

}  // namespace

namespace ref {
void batch_norm_sums(const BatchNormSumsArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_sums", [&](auto t) { sums_loops<decltype(t)>(args, 1); });
}
void batch_norm_statistics(const BatchNormStatisticsArgs& args) {
  dispatch_floating(args.mean.dtype(), "batch_norm_statistics",
                    [&](auto t) { statistics_loops<decltype(t)>(args); });
}
void batch_norm_backward_sums(const BatchNormBackwardSumsArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_backward_sums",
                    [&](auto t) { backward_sums_loops<decltype(t)>(args, 1); });
}
void batch_norm_input_grad(const BatchNormInputGradArgs& args) {
  dispatch_floating(args.x.dtype(), "batch_norm_input_grad",
                    [&](auto t) { input_grad_loops<decltype(t)>(args, 1); });
}
}  // namespace ref

void batch_norm_sums(const Stream& stream, const BatchNormSumsArgs& args) {
  if (is_half(args.x)) {
    HalfWidening h(stream);
    batch_norm_sums(stream, {.x = h.in(args.x), .sums = args.sums});
    return h.finish();
  }
  const int threads = threads_for(stream, args.x);
  if (!use_reference(stream, args.x.dtype()) && planes_sums(args, threads)) return;
  dispatch_floating(args.x.dtype(), "batch_norm_sums", [&](auto t) { sums_loops<decltype(t)>(args, threads); });
}

void batch_norm_statistics(const Stream&, const BatchNormStatisticsArgs& args) {
  ref::batch_norm_statistics(args);  // C values: nothing to thread
}

void batch_norm_backward_sums(const Stream& stream, const BatchNormBackwardSumsArgs& args) {
  if (any_half({&args.dy, &args.x})) {
    HalfWidening h(stream);
    batch_norm_backward_sums(stream, {.dy = h.in(args.dy),
                                      .x = h.in(args.x),
                                      .save_mean = args.save_mean,
                                      .save_invstd = args.save_invstd,
                                      .sums = args.sums,
                                      .dgamma = args.dgamma,
                                      .dbeta = args.dbeta,
                                      .param_mode = args.param_mode});
    return h.finish();
  }
  const int threads = threads_for(stream, args.x);
  if (!use_reference(stream, args.x.dtype()) && planes_backward_sums(args, threads)) return;
  dispatch_floating(args.x.dtype(), "batch_norm_backward_sums",
                    [&](auto t) { backward_sums_loops<decltype(t)>(args, threads); });
}

void batch_norm_input_grad(const Stream& stream, const BatchNormInputGradArgs& args) {
  if (any_half({&args.dy, &args.x, &args.dx})) {
    HalfWidening h(stream);
    batch_norm_input_grad(stream, {.dy = h.in(args.dy),
                                   .x = h.in(args.x),
                                   .gamma = args.gamma,
                                   .save_mean = args.save_mean,
                                   .save_invstd = args.save_invstd,
                                   .sums = args.sums,
                                   .dx = h.out(args.dx, args.dx_mode),
                                   .dx_mode = args.dx_mode});
    return h.finish();
  }
  const int threads = threads_for(stream, args.x);
  if (!use_reference(stream, args.x.dtype()) && planes_input_grad(args, threads)) return;
  dispatch_floating(args.x.dtype(), "batch_norm_input_grad",
                    [&](auto t) { input_grad_loops<decltype(t)>(args, threads); });
}

}  // namespace sprint::cpu
