// conv.cpp (CPU): Conv2d forward / backward-data / backward-weight. The reference loops (double accumulation,
// any strides, groups, dilation) are the oracle; f32 calls go to the oneDNN fast path (onednn_conv.cpp), or for
// 3x3 stride-1 layers with enough channels to sprint's Winograd kernels (winograd_conv.h; rule below).
#include "sprint/backend/api/conv.h"

#include <algorithm>
#include <vector>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/onednn_ops.h"
#include "sprint/backend/cpu/winograd_conv.h"

namespace sprint::cpu {

// ------------------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------------------
namespace {

struct ConvDims {
  int64_t n, c, h, w;  // input
  int64_t k, r, s;     // filters (K, C/G, R, S)
  int64_t p, q;        // output
  int64_t groups, c_per_group, k_per_group;
};

ConvDims conv_dims(const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& prm) {
  ConvDims d{x.dim(0),
             x.dim(1),
             x.dim(2),
             x.dim(3),
             w.dim(0),
             w.dim(2),
             w.dim(3),
             y.dim(2),
             y.dim(3),
             prm.groups,
             x.dim(1) / prm.groups,
             w.dim(0) / prm.groups};
  return d;
}

template <class T>
void conv2d_forward_ref(const Conv2dForwardArgs& a) {
  const ConvDims d = conv_dims(a.x, a.w, a.y, a.params);
  const Conv2dParams& prm = a.params;
  const T* x = a.x.data_as<T>();
  const T* w = a.w.data_as<T>();  // (K, C/G, R, S), contiguous or blocked weights
  const Offsets4d wo = offsets4d(a.w);
  const T* b = a.b.defined() ? a.b.data_as<T>() : nullptr;
  T* y = a.y.data_as<T>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t k = 0; k < d.k; ++k) {
      const int64_t c0 = (k / d.k_per_group) * d.c_per_group;
      for (int64_t p = 0; p < d.p; ++p)
        for (int64_t q = 0; q < d.q; ++q) {
          double acc = b ? static_cast<double>(b[k]) : 0.0;
          for (int64_t c = 0; c < d.c_per_group; ++c)
            for (int64_t r = 0; r < d.r; ++r) {
              const int64_t h = p * prm.stride - prm.padding + r * prm.dilation;
              if (h < 0 || h >= d.h) continue;
              for (int64_t s = 0; s < d.s; ++s) {
                const int64_t iw = q * prm.stride - prm.padding + s * prm.dilation;
                if (iw < 0 || iw >= d.w) continue;
                acc += static_cast<double>(x[xo(n, c0 + c, h, iw)]) *
                       static_cast<double>(w[wo(k, c, r, s)]);
              }
            }
          y[yo(n, k, p, q)] = static_cast<T>(activation_forward(a.activation, acc));
        }
    }
}

// dx[n, c, h, w] = Σ_{k in c's group, r, s} dy[n, k, p, q] · w[k, c', r, s] over the (p, q) whose window puts
// tap (r, s) on (h, w): h = p·stride − padding + r·dilation.
template <class T>
void conv2d_backward_data_ref(const Conv2dBackwardDataArgs& a) {
  const ConvDims d = conv_dims(a.dx, a.w, a.dy, a.params);
  const Conv2dParams& prm = a.params;
  const T* dy = a.dy.data_as<T>();
  const T* w = a.w.data_as<T>();
  const Offsets4d wo = offsets4d(a.w);
  T* dx = a.dx.data_as<T>();
  const Offsets4d xo = offsets4d(a.dx), yo = offsets4d(a.dy);
  const bool acc_mode = a.mode == GradMode::kAccumulate;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t c = 0; c < d.c; ++c) {
      const int64_t g = c / d.c_per_group, cg = c % d.c_per_group;
      for (int64_t h = 0; h < d.h; ++h)
        for (int64_t iw = 0; iw < d.w; ++iw) {
          double acc = 0.0;
          for (int64_t r = 0; r < d.r; ++r) {
            const int64_t ph = h + prm.padding - r * prm.dilation;
            if (ph < 0 || ph % prm.stride != 0 || ph / prm.stride >= d.p) continue;
            for (int64_t s = 0; s < d.s; ++s) {
              const int64_t qw = iw + prm.padding - s * prm.dilation;
              if (qw < 0 || qw % prm.stride != 0 || qw / prm.stride >= d.q) continue;
              for (int64_t k = g * d.k_per_group; k < (g + 1) * d.k_per_group; ++k)
                acc += static_cast<double>(dy[yo(n, k, ph / prm.stride, qw / prm.stride)]) *
                       static_cast<double>(w[wo(k, cg, r, s)]);
            }
          }
          store(dx[xo(n, c, h, iw)], static_cast<T>(acc), acc_mode);
        }
    }
}

template <class T>
void conv2d_backward_weight_ref(const Conv2dBackwardWeightArgs& a) {
  const Conv2dParams& prm = a.params;
  const T* dy = a.dy.data_as<T>();
  const T* x = a.x.data_as<T>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.dy);
  const int64_t n_batch = a.x.dim(0), h_in = a.x.dim(2), w_in = a.x.dim(3);
  const int64_t k_out = a.dy.dim(1), p_out = a.dy.dim(2), q_out = a.dy.dim(3);
  const bool acc_mode = a.mode == GradMode::kAccumulate;
  if (a.dw.defined()) {
    const int64_t cg_n = a.dw.dim(1), r_n = a.dw.dim(2), s_n = a.dw.dim(3);
    const int64_t k_per_group = k_out / prm.groups;
    T* dw = a.dw.data_as<T>();
    const Offsets4d dwo = offsets4d(a.dw);
    for (int64_t k = 0; k < k_out; ++k) {
      const int64_t c0 = (k / k_per_group) * cg_n;
      for (int64_t c = 0; c < cg_n; ++c)
        for (int64_t r = 0; r < r_n; ++r)
          for (int64_t s = 0; s < s_n; ++s) {
            double acc = 0.0;
            for (int64_t n = 0; n < n_batch; ++n)
              for (int64_t p = 0; p < p_out; ++p) {
                const int64_t h = p * prm.stride - prm.padding + r * prm.dilation;
                if (h < 0 || h >= h_in) continue;
                for (int64_t q = 0; q < q_out; ++q) {
                  const int64_t iw = q * prm.stride - prm.padding + s * prm.dilation;
                  if (iw < 0 || iw >= w_in) continue;
                  acc +=
                      static_cast<double>(dy[yo(n, k, p, q)]) * static_cast<double>(x[xo(n, c0 + c, h, iw)]);
                }
              }
            store(dw[dwo(k, c, r, s)], static_cast<T>(acc), acc_mode);
          }
    }
  }
  if (a.db.defined()) {
    T* db = a.db.data_as<T>();
    for (int64_t k = 0; k < k_out; ++k) {
      double acc = 0.0;
      for (int64_t n = 0; n < n_batch; ++n)
        for (int64_t p = 0; p < p_out; ++p)
          for (int64_t q = 0; q < q_out; ++q) acc += static_cast<double>(dy[yo(n, k, p, q)]);
      store(db[k], static_cast<T>(acc), acc_mode);
    }
  }
}

}  // namespace

namespace ref {
void conv2d_forward(const Conv2dForwardArgs& args) {
  dispatch_floating(args.x.dtype(), "conv2d_forward", [&](auto t) { conv2d_forward_ref<decltype(t)>(args); });
}
void conv2d_backward_data(const Conv2dBackwardDataArgs& args) {
  dispatch_floating(args.dy.dtype(), "conv2d_backward_data",
                    [&](auto t) { conv2d_backward_data_ref<decltype(t)>(args); });
}
void conv2d_backward_weight(const Conv2dBackwardWeightArgs& args) {
  dispatch_floating(args.dy.dtype(), "conv2d_backward_weight",
                    [&](auto t) { conv2d_backward_weight_ref<decltype(t)>(args); });
}
}  // namespace ref

// ------------------------------------------------------------------------------------------------------------
// Dispatch: Winograd or oneDNN for f32, the reference for f64 (and in reference mode); bf16 operands run
// oneDNN's bf16 kernels where the CPU has AMX-BF16, other f16/bf16 operands are widened to f32 around the call
// (half_widening.h)
// ------------------------------------------------------------------------------------------------------------
namespace {
// The fast paths' blocked layouts serve f32 and the half dtypes (whose operands are widened to f32 in the same
// layout); the reference loops (f64, reference mode) read plain ones.
bool blocked_layouts(const Stream& stream, DType dtype) {
  if (context_of(stream).reference_only()) return false;
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return true;
    case DType::kF64:
    case DType::kI32:
    case DType::kI64:
    case DType::kU8: return false;
  }
  return false;
}
}  // namespace

bool has_native_bf16_convolutions(const Stream& stream) {
  return !context_of(stream).reference_only() && onednn::has_bf16_convolutions();
}

MemoryFormat preferred_activation_format(const Stream& stream, DType dtype) {
  if (!blocked_layouts(stream, dtype)) return MemoryFormat::kContiguous;
  // bf16 on AMX: channels-last, the layout of oneDNN's AMX convolutions.
  if (dtype == DType::kBF16 && has_native_bf16_convolutions(stream)) return MemoryFormat::kChannelsLast;
  return onednn::channel_block() == 16 ? MemoryFormat::kChannelsBlocked16 : MemoryFormat::kChannelsBlocked8;
}

MemoryFormat preferred_weight_format(const Stream& stream, DType dtype, MemoryFormat input_format, int64_t groups) {
  if (!blocked_layouts(stream, dtype) || groups != 1) return MemoryFormat::kContiguous;
  switch (channel_block(input_format)) {
    case 8: return MemoryFormat::kWeightsBlocked8;
    case 16: return MemoryFormat::kWeightsBlocked16;
    default: return MemoryFormat::kContiguous;
  }
}

namespace {
enum class ConvPass { kForward, kBackwardData, kBackwardWeight };

/// Where Winograd F(4x4, 3x3) beats oneDNN's direct kernels, measured per pass with bench/conv_layers_bench.cpp
/// (batch 64, Zen 3; docs/benchmarks.md, "Winograd convolutions, AVX2"): planes of at least 4x4 (a smaller one
/// pays a whole 6x6 tile for fewer outputs) and, with 2 or more threads, at least 64 input and output channels
/// (resnet18's 64 at 32x32 up to 512 at 4x4: 1.5-2.8x faster in every pass; below 64 the two threads' share of
/// the products is too small to hide the transforms and barriers, and a busy machine made it a loss), on one
/// thread at least 16 (16 to 64 channels at 14x14 and 32x32: 1.1-2x faster).
bool winograd_profitable(int threads, int64_t c, int64_t k, int64_t h, int64_t w) {
  const int64_t min_channels = threads == 1 ? 16 : 64;
  return c >= min_channels && k >= min_channels && h >= 4 && w >= 4;
}

/// `in` is the pass's input side (x, or dy for backward-data), `out` its output (y, dx).
bool use_winograd(const Stream& stream, ConvPass pass, const Tensor& in, const Tensor& w, const Tensor& out,
                  const Conv2dParams& p) {
  const WinogradMode mode = winograd_mode();
  if (mode == WinogradMode::kOff || !winograd_supported(in, w, out, p)) return false;
  if (mode == WinogradMode::kOn) return true;
  const Tensor& x = pass == ConvPass::kBackwardData ? out : in;
  return winograd_profitable(context_of(stream).num_threads(), x.dim(1), w.dim(0), x.dim(2), x.dim(3));
}
}  // namespace

void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args) {
  if (any_half({&args.x, &args.w, &args.b, &args.y})) {
    if (native_bf16_operands(stream, {&args.x, &args.w, &args.b, &args.y}) && onednn::conv2d_forward(stream, args))
      return;
    HalfWidening h(stream);
    conv2d_forward(stream, {.x = h.in(args.x), .w = h.in(args.w), .b = h.in(args.b), .y = h.out(args.y),
                            .params = args.params, .activation = args.activation});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::conv2d_forward(args);
  if (use_winograd(stream, ConvPass::kForward, args.x, args.w, args.y, args.params))
    return winograd_conv2d_forward(stream, args);
  onednn::conv2d_forward(stream, args);
}

void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args) {
  if (any_half({&args.dy, &args.w, &args.dx})) {
    if (native_bf16_operands(stream, {&args.dy, &args.w, &args.dx}) && onednn::conv2d_backward_data(stream, args))
      return;
    HalfWidening h(stream);
    conv2d_backward_data(stream, {.dy = h.in(args.dy), .w = h.in(args.w), .dx = h.out(args.dx, args.mode),
                                  .params = args.params, .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::conv2d_backward_data(args);
  if (use_winograd(stream, ConvPass::kBackwardData, args.dy, args.w, args.dx, args.params))
    return winograd_conv2d_backward_data(stream, args);
  onednn::conv2d_backward_data(stream, args);
}

void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args) {
  if (any_half({&args.dy, &args.x, &args.dw, &args.db})) {
    // Weight gradients of bf16 operands may be f32 (mixed precision); oneDNN writes those directly.
    if (args.dw.defined() && native_bf16_operands(stream, {&args.dy, &args.x}) &&
        onednn::conv2d_backward_weight(stream, args))
      return;
    HalfWidening h(stream);
    conv2d_backward_weight(stream, {.dy = h.in(args.dy), .x = h.in(args.x), .dw = h.out(args.dw, args.mode),
                                    .db = h.out(args.db, args.mode), .params = args.params, .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::conv2d_backward_weight(args);
  if (!args.dw.defined() && !args.db.defined()) return;
  // A frozen weight with a trainable bias is rare: the loops compute the bias gradient alone.
  if (!args.dw.defined()) return ref::conv2d_backward_weight(args);
  if (use_winograd(stream, ConvPass::kBackwardWeight, args.x, args.dw, args.dy, args.params))
    return winograd_conv2d_backward_weight(stream, args);
  onednn::conv2d_backward_weight(stream, args);
}

}  // namespace sprint::cpu
