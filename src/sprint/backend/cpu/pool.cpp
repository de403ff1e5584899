// pool.cpp (CPU): max / average pooling over windows and global average / max pooling. Reference loops (double
// accumulation, any strides) are the oracle. f32 fast paths: oneDNN (onednn_pool.cpp) for average pooling;
// layout-aware loops for max-pool forward (max_pool_forward.cpp), max-pool backward (through the indices) and
// global pooling (memory-bound; the compiler vectorises them).
#include "sprint/backend/api/pool.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/max_pool_forward.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu {

// ------------------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------------------
namespace {

/// Calls f(h, w) for every in-bounds input position of output (p, q)'s window.
template <class F>
void for_each_tap(int64_t p, int64_t q, int64_t h_in, int64_t w_in, const Pool2dParams& prm, F&& f) {
  for (int64_t r = 0; r < prm.kernel; ++r) {
    const int64_t h = p * prm.stride - prm.padding + r;
    if (h < 0 || h >= h_in) continue;
    for (int64_t s = 0; s < prm.kernel; ++s) {
      const int64_t w = q * prm.stride - prm.padding + s;
      if (w >= 0 && w < w_in) f(h, w);
    }
  }
}

/// Divisor of average pooling for output (p, q).
double avg_divisor(int64_t p, int64_t q, int64_t h_in, int64_t w_in, const Pool2dParams& prm) {
  if (prm.count_include_pad) return static_cast<double>(prm.kernel * prm.kernel);
  int64_t taps = 0;
  for_each_tap(p, q, h_in, w_in, prm, [&](int64_t, int64_t) { ++taps; });
  return static_cast<double>(taps);
}

/// Zeroes dx (overwrite mode) so that backward passes can scatter-add into it.
template <class T>
void zero_if_overwrite(const Tensor& dx, GradMode mode) {
  if (mode == GradMode::kOverwrite) std::memset(dx.data(), 0, dx.n_bytes());  // dense 4-D: numel elements
}

template <class T>
void max_pool_forward_ref(const MaxPool2dForwardArgs& a) {
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  int32_t* idx = a.indices.defined() ? a.indices.data_as<int32_t>() : nullptr;
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
  const Offsets4d io = a.indices.defined() ? offsets4d(a.indices) : Offsets4d{};
  const int64_t h_in = a.x.dim(2), w_in = a.x.dim(3);
  for (int64_t n = 0; n < a.y.dim(0); ++n)
    for (int64_t c = 0; c < a.y.dim(1); ++c)
      for (int64_t p = 0; p < a.y.dim(2); ++p)
        for (int64_t q = 0; q < a.y.dim(3); ++q) {
          T best = T(0);
          int64_t where = -1;
          for_each_tap(p, q, h_in, w_in, a.params, [&](int64_t h, int64_t w) {
            const T v = x[xo(n, c, h, w)];
            if (where < 0 || v > best) {
              best = v;
              where = h * w_in + w;
            }
          });
          y[yo(n, c, p, q)] = best;
          if (idx) idx[io(n, c, p, q)] = static_cast<int32_t>(where);
        }
}

template <class T>
void max_pool_backward_ref(const MaxPool2dBackwardArgs& a) {
  const T* dy = a.dy.data_as<T>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  T* dx = a.dx.data_as<T>();
  const Offsets4d yo = offsets4d(a.dy), io = offsets4d(a.indices), xo = offsets4d(a.dx);
  const int64_t w_in = a.dx.dim(3);
  zero_if_overwrite<T>(a.dx, a.mode);
  for (int64_t n = 0; n < a.dy.dim(0); ++n)
    for (int64_t c = 0; c < a.dy.dim(1); ++c)
      for (int64_t p = 0; p < a.dy.dim(2); ++p)
        for (int64_t q = 0; q < a.dy.dim(3); ++q) {
          const int64_t where = idx[io(n, c, p, q)];
          dx[xo(n, c, where / w_in, where % w_in)] += dy[yo(n, c, p, q)];
        }
}

template <class T>
void avg_pool_forward_ref(const AvgPool2dForwardArgs& a) {
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
  const int64_t h_in = a.x.dim(2), w_in = a.x.dim(3);
  for (int64_t n = 0; n < a.y.dim(0); ++n)
    for (int64_t c = 0; c < a.y.dim(1); ++c)
      for (int64_t p = 0; p < a.y.dim(2); ++p)
        for (int64_t q = 0; q < a.y.dim(3); ++q) {
          double sum = 0.0;
          for_each_tap(p, q, h_in, w_in, a.params, [&](int64_t h, int64_t w) { sum += x[xo(n, c, h, w)]; });
          y[yo(n, c, p, q)] = static_cast<T>(sum / avg_divisor(p, q, h_in, w_in, a.params));
        }
}

template <class T>
void avg_pool_backward_ref(const AvgPool2dBackwardArgs& a) {
  const T* dy = a.dy.data_as<T>();
  T* dx = a.dx.data_as<T>();
  const Offsets4d yo = offsets4d(a.dy), xo = offsets4d(a.dx);
  const int64_t h_in = a.dx.dim(2), w_in = a.dx.dim(3);
  zero_if_overwrite<T>(a.dx, a.mode);
  for (int64_t n = 0; n < a.dy.dim(0); ++n)
    for (int64_t c = 0; c < a.dy.dim(1); ++c)
      for (int64_t p = 0; p < a.dy.dim(2); ++p)
        for (int64_t q = 0; q < a.dy.dim(3); ++q) {
          const double g = static_cast<double>(dy[yo(n, c, p, q)]) / avg_divisor(p, q, h_in, w_in, a.params);
          for_each_tap(p, q, h_in, w_in, a.params,
                       [&](int64_t h, int64_t w) { dx[xo(n, c, h, w)] += static_cast<T>(g); });
        }
}

template <class T>
void global_avg_forward_ref(const GlobalPoolForwardArgs& a) {
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  const Offsets4d xo = offsets4d(a.x);
  const int64_t channels = a.x.dim(1), h_in = a.x.dim(2), w_in = a.x.dim(3);
  for (int64_t n = 0; n < a.x.dim(0); ++n)
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0.0;
      for (int64_t h = 0; h < h_in; ++h)
        for (int64_t w = 0; w < w_in; ++w) sum += static_cast<double>(x[xo(n, c, h, w)]);
      y[n * channels + c] = static_cast<T>(sum / static_cast<double>(h_in * w_in));
    }
}

template <class T>
void global_avg_backward_ref(const GlobalPoolBackwardArgs& a) {
  const T* dy = a.dy.data_as<T>();
  T* dx = a.dx.data_as<T>();
  const Offsets4d xo = offsets4d(a.dx);
  const int64_t channels = a.dx.dim(1), h_in = a.dx.dim(2), w_in = a.dx.dim(3);
  const bool acc = a.mode == GradMode::kAccumulate;
  for (int64_t n = 0; n < a.dx.dim(0); ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const T g =
          static_cast<T>(static_cast<double>(dy[n * channels + c]) / static_cast<double>(h_in * w_in));
      for (int64_t h = 0; h < h_in; ++h)
        for (int64_t w = 0; w < w_in; ++w) store(dx[xo(n, c, h, w)], g, acc);
    }
}

template <class T>
void global_max_forward_ref(const GlobalPoolForwardArgs& a) {
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  int32_t* idx = a.indices.defined() ? a.indices.data_as<int32_t>() : nullptr;
  const Offsets4d xo = offsets4d(a.x);
  const int64_t channels = a.x.dim(1), h_in = a.x.dim(2), w_in = a.x.dim(3);
  for (int64_t n = 0; n < a.x.dim(0); ++n)
    for (int64_t c = 0; c < channels; ++c) {
      T best = x[xo(n, c, 0, 0)];
      int64_t where = 0;
      for (int64_t h = 0; h < h_in; ++h)
        for (int64_t w = 0; w < w_in; ++w)
          if (x[xo(n, c, h, w)] > best) {
            best = x[xo(n, c, h, w)];
            where = h * w_in + w;
          }
      y[n * channels + c] = best;
      if (idx) idx[n * channels + c] = static_cast<int32_t>(where);
    }
}

template <class T>
void global_max_backward_ref(const GlobalPoolBackwardArgs& a) {
  const T* dy = a.dy.data_as<T>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  T* dx = a.dx.data_as<T>();
  const Offsets4d xo = offsets4d(a.dx);
  const int64_t channels = a.dx.dim(1), w_in = a.dx.dim(3);
  zero_if_overwrite<T>(a.dx, a.mode);
  for (int64_t n = 0; n < a.dx.dim(0); ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t where = idx[n * channels + c];
      dx[xo(n, c, where / w_in, where % w_in)] += dy[n * channels + c];
    }
}

}  // namespace

namespace ref {
#define SPRINT_POOL_REF(name, Args, impl, tensor)                                            \
  void name(const Args& args) {                                                              \
    dispatch_floating(args.tensor.dtype(), #name, [&](auto t) { impl<decltype(t)>(args); }); \
  }
SPRINT_POOL_REF(max_pool2d_forward, MaxPool2dForwardArgs, max_pool_forward_ref, x)
SPRINT_POOL_REF(max_pool2d_backward, MaxPool2dBackwardArgs, max_pool_backward_ref, dy)
SPRINT_POOL_REF(avg_pool2d_forward, AvgPool2dForwardArgs, avg_pool_forward_ref, x)
SPRINT_POOL_REF(avg_pool2d_backward, AvgPool2dBackwardArgs, avg_pool_backward_ref, dy)
SPRINT_POOL_REF(global_avg_pool2d_forward, GlobalPoolForwardArgs, global_avg_forward_ref, x)
SPRINT_POOL_REF(global_avg_pool2d_backward, GlobalPoolBackwardArgs, global_avg_backward_ref, dy)
SPRINT_POOL_REF(global_max_pool2d_forward, GlobalPoolForwardArgs, global_max_forward_ref, x)
SPRINT_POOL_REF(global_max_pool2d_backward, GlobalPoolBackwardArgs, global_max_backward_ref, dy)
#undef SPRINT_POOL_REF
}  // namespace ref

// ------------------------------------------------------------------------------------------------------------
// Max-pool backward fast path (f32). NHWC with non-overlapping windows (stride >= kernel, no padding) in
// overwrite mode is one gathering pass: input (h, w) belongs to window (h / stride, w / stride) at most and gets
// that window's dy where the window's index points at it, 0 elsewhere (a compare-and-select vectorised over C).
// Other cases (and NCHW, whose rows are too short to vectorise that way) zero dx and scatter-add dy through the
// indices: branch-free, whatever the data.
// ------------------------------------------------------------------------------------------------------------
namespace {

void max_pool_gather_nhwc(const float* dy, const int32_t* idx, float* dx, int64_t n_batch, int64_t channels,
                          int64_t h_in, int64_t w_in, int64_t p_out, int64_t q_out, const Pool2dParams& prm) {
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t h = 0; h < h_in; ++h) {
      const int64_t p = h / prm.stride;
      const bool row_in = p < p_out && h - p * prm.stride < prm.kernel;
      for (int64_t w = 0; w < w_in; ++w) {
        float* out = dx + ((n * h_in + h) * w_in + w) * channels;
        const int64_t q = w / prm.stride;
        if (!row_in || q >= q_out || w - q * prm.stride >= prm.kernel) {
          std::fill(out, out + channels, 0.0f);
          continue;
        }
        const int64_t window = ((n * p_out + p) * q_out + q) * channels;
        const float* g = dy + window;
        const int32_t* where = idx + window;
        const int32_t here = static_cast<int32_t>(h * w_in + w);
        for (int64_t c = 0; c < channels; ++c) out[c] = where[c] == here ? g[c] : 0.0f;
      }
    }
}

void max_pool_backward_f32(const MaxPool2dBackwardArgs& a) {
  const float* dy = a.dy.data_as<float>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  float* dx = a.dx.data_as<float>();
  const Pool2dParams& prm = a.params;
  // A channel-blocked tensor is N·ceil(C/b) NHWC images of b channels (padding channels have dy = 0).
  const int64_t block = a.dy.channel_block();
  const int64_t groups = block != 0 ? (a.dy.dim(1) + block - 1) / block : 1;
  const int64_t n_batch = a.dy.dim(0) * groups, channels = block != 0 ? block : a.dy.dim(1);
  const int64_t p_out = a.dy.dim(2), q_out = a.dy.dim(3);
  const int64_t h_in = a.dx.dim(2), w_in = a.dx.dim(3), out_plane = p_out * q_out, in_plane = h_in * w_in;
  const bool nchw = a.dy.memory_format() == MemoryFormat::kContiguous;
  const bool disjoint = prm.stride >= prm.kernel && prm.padding == 0 && a.mode == GradMode::kOverwrite;
  if (disjoint && !nchw)
    return max_pool_gather_nhwc(dy, idx, dx, n_batch, channels, h_in, w_in, p_out, q_out, prm);
  if (a.mode == GradMode::kOverwrite) std::memset(dx, 0, a.dx.n_bytes());
  if (nchw) {
    for (int64_t nc = 0; nc < n_batch * channels; ++nc) {
      float* plane = dx + nc * in_plane;
      const float* g = dy + nc * out_plane;
      const int32_t* where = idx + nc * out_plane;
      for (int64_t j = 0; j < out_plane; ++j) plane[where[j]] += g[j];
    }
    return;
  }
  for (int64_t n = 0; n < n_batch; ++n) {
    float* image = dx + n * in_plane * channels;
    for (int64_t j = 0; j < out_plane; ++j) {
      const float* g = dy + (n * out_plane + j) * channels;
      const int32_t* where = idx + (n * out_plane + j) * channels;
      for (int64_t c = 0; c < channels; ++c) image[where[c] * channels + c] += g[c];
    }
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Global pooling fast path (f32): one pass in memory order. NCHW reduces each contiguous H·W plane; NHWC
// walks the H·W rows of C channels, so the inner loop runs over contiguous channels.
// ------------------------------------------------------------------------------------------------------------
namespace {

/// Global pooling over a channel-blocked x: for each (n, channel block) an H·W x b image; y is (N, C).
template <class F>
void for_each_block(const Tensor& x, F&& f) {
  const int64_t block = x.channel_block(), channels = x.dim(1), groups = (channels + block - 1) / block;
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t g = 0; g < groups; ++g)
      f(n * x.strides()[0] + g * x.strides()[1], n * channels + g * block, std::min(block, channels - g * block));
}

void global_avg_forward_f32(const GlobalPoolForwardArgs& a) {
  const int64_t n_batch = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  const float* x = a.x.data_as<float>();
  float* y = a.y.data_as<float>();
  const float inv = 1.0f / static_cast<float>(hw);
  if (a.x.is_channel_blocked()) {
    const int64_t b = a.x.channel_block();
    for_each_block(a.x, [&](int64_t in, int64_t out, int64_t valid) {
      float sum[16] = {};
      for (int64_t j = 0; j < hw; ++j)
        for (int64_t c = 0; c < b; ++c) sum[c] += x[in + j * b + c];
      for (int64_t c = 0; c < valid; ++c) y[out + c] = sum[c] * inv;
    });
    return;
  }
  if (a.x.memory_format() == MemoryFormat::kContiguous) {
    for (int64_t i = 0; i < n_batch * channels; ++i) {
      const float* plane = x + i * hw;
      float sum = 0.0f;
      for (int64_t j = 0; j < hw; ++j) sum += plane[j];
      y[i] = sum * inv;
    }
    return;
  }
  for (int64_t n = 0; n < n_batch; ++n) {
    float* yn = y + n * channels;
    std::fill(yn, yn + channels, 0.0f);
    for (int64_t j = 0; j < hw; ++j) {
      const float* row = x + (n * hw + j) * channels;
      for (int64_t c = 0; c < channels; ++c) yn[c] += row[c];
    }
    for (int64_t c = 0; c < channels; ++c) yn[c] *= inv;
  }
}

void global_avg_backward_f32(const GlobalPoolBackwardArgs& a) {
  const int64_t n_batch = a.dx.dim(0), channels = a.dx.dim(1), hw = a.dx.dim(2) * a.dx.dim(3);
  const float* dy = a.dy.data_as<float>();
  float* dx = a.dx.data_as<float>();
  const float inv = 1.0f / static_cast<float>(hw);
  const bool acc = a.mode == GradMode::kAccumulate;
  if (a.dx.is_channel_blocked()) {  // padding channels get 0 (overwrite) or stay 0 (accumulate)
    const int64_t b = a.dx.channel_block();
    for_each_block(a.dx, [&](int64_t out, int64_t in, int64_t valid) {
      float g[16] = {};
      for (int64_t c = 0; c < valid; ++c) g[c] = dy[in + c] * inv;
      for (int64_t j = 0; j < hw; ++j) {
        float* row = dx + out + j * b;
        for (int64_t c = 0; c < b; ++c) row[c] = acc ? row[c] + g[c] : g[c];
      }
    });
    return;
  }
  if (a.dx.memory_format() == MemoryFormat::kContiguous) {
    for (int64_t i = 0; i < n_batch * channels; ++i) {
      float* plane = dx + i * hw;
      const float g = dy[i] * inv;
      if (acc) {
        for (int64_t j = 0; j < hw; ++j) plane[j] += g;
      } else {
        std::fill(plane, plane + hw, g);
      }
    }
    return;
  }
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t j = 0; j < hw; ++j) {
      float* row = dx + (n * hw + j) * channels;
      const float* g = dy + n * channels;
      if (acc) {
        for (int64_t c = 0; c < channels; ++c) row[c] += g[c] * inv;
      } else {
        for (int64_t c = 0; c < channels; ++c) row[c] = g[c] * inv;
      }
    }
}

void global_max_forward_f32(const GlobalPoolForwardArgs& a) {
  const int64_t n_batch = a.x.dim(0), channels = a.x.dim(1), hw = a.x.dim(2) * a.x.dim(3);
  const float* x = a.x.data_as<float>();
  float* y = a.y.data_as<float>();
  int32_t* idx = a.indices.defined() ? a.indices.data_as<int32_t>() : nullptr;
  if (a.x.is_channel_blocked()) {
    const int64_t b = a.x.channel_block();
    for_each_block(a.x, [&](int64_t in, int64_t out, int64_t valid) {
      for (int64_t c = 0; c < valid; ++c) {
        float best = x[in + c];
        int32_t where = 0;
        for (int64_t j = 1; j < hw; ++j)
          if (x[in + j * b + c] > best) {
            best = x[in + j * b + c];
            where = static_cast<int32_t>(j);
          }
        y[out + c] = best;
        if (idx) idx[out + c] = where;
      }
    });
    return;
  }
  if (a.x.memory_format() == MemoryFormat::kContiguous) {
    for (int64_t i = 0; i < n_batch * channels; ++i) {
      const float* plane = x + i * hw;
      float best = plane[0];
      int32_t where = 0;
      for (int64_t j = 1; j < hw; ++j)
        if (plane[j] > best) {
          best = plane[j];
          where = static_cast<int32_t>(j);
        }
      y[i] = best;
      if (idx) idx[i] = where;
    }
    return;
  }
  for (int64_t n = 0; n < n_batch; ++n) {
    float* yn = y + n * channels;
    int32_t* in = idx ? idx + n * channels : nullptr;
    std::copy(x + n * hw * channels, x + (n * hw + 1) * channels, yn);
    if (in) std::fill(in, in + channels, 0);
    for (int64_t j = 1; j < hw; ++j) {
      const float* row = x + (n * hw + j) * channels;
      if (in) {
        for (int64_t c = 0; c < channels; ++c) {
          const bool greater = row[c] > yn[c];
          yn[c] = greater ? row[c] : yn[c];
          in[c] = greater ? static_cast<int32_t>(j) : in[c];
        }
      } else {
        for (int64_t c = 0; c < channels; ++c) yn[c] = std::max(yn[c], row[c]);
      }
    }
  }
}

void global_max_backward_f32(const GlobalPoolBackwardArgs& a) {
  const int64_t n_batch = a.dx.dim(0), channels = a.dx.dim(1);
  const float* dy = a.dy.data_as<float>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  float* dx = a.dx.data_as<float>();
  if (a.mode == GradMode::kOverwrite) std::memset(dx, 0, a.dx.n_bytes());
  const Offsets4d o = offsets4d(a.dx);
  const int64_t w_in = a.dx.dim(3);
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t i = n * channels + c, j = idx[i];
      dx[o(n, c, j / w_in, j % w_in)] += dy[i];
    }
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Dispatch: the f32 kernels above (oneDNN for average pooling), the reference for f64 (and in reference mode);
// f16/bf16 operands are widened to f32 around the call (half_widening.h)
// ------------------------------------------------------------------------------------------------------------
void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& args) {
  if (any_half({&args.x, &args.y})) {
    HalfWidening h(stream);
    max_pool2d_forward(stream, {.x = h.in(args.x), .y = h.out(args.y), .indices = args.indices, .params = args.params});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::max_pool2d_forward(args);
  max_pool_forward_f32(stream, args);
}
void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& args) {
  if (any_half({&args.dy, &args.dx})) {
    HalfWidening h(stream);
    max_pool2d_backward(stream, {.dy = h.in(args.dy),
                                 .indices = args.indices,
                                 .dx = h.out(args.dx, args.mode),
                                 .params = args.params,
                                 .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::max_pool2d_backward(args);
  max_pool_backward_f32(args);
}
void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& args) {
  if (any_half({&args.x, &args.y})) {
    HalfWidening h(stream);
    avg_pool2d_forward(stream, {.x = h.in(args.x), .y = h.out(args.y), .params = args.params});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::avg_pool2d_forward(args);
  onednn::avg_pool2d_forward(stream, args);
}
void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& args) {
  if (any_half({&args.dy, &args.dx})) {
    HalfWidening h(stream);
    avg_pool2d_backward(
        stream, {.dy = h.in(args.dy), .dx = h.out(args.dx, args.mode), .params = args.params, .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::avg_pool2d_backward(args);
  onednn::avg_pool2d_backward(stream, args);
}
void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args) {
  if (any_half({&args.x, &args.y})) {
    HalfWidening h(stream);
    global_avg_pool2d_forward(stream, {.x = h.in(args.x), .y = h.out(args.y), .indices = args.indices});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::global_avg_pool2d_forward(args);
  global_avg_forward_f32(args);
}
void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args) {
  if (any_half({&args.dy, &args.dx})) {
    HalfWidening h(stream);
    global_avg_pool2d_backward(stream, {.dy = h.in(args.dy),
                                        .indices = args.indices,
                                        .dx = h.out(args.dx, args.mode),
                                        .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::global_avg_pool2d_backward(args);
  global_avg_backward_f32(args);
}
void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args) {
  if (any_half({&args.x, &args.y})) {
    HalfWidening h(stream);
    global_max_pool2d_forward(stream, {.x = h.in(args.x), .y = h.out(args.y), .indices = args.indices});
    return h.finish();
  }
  if (use_reference(stream, args.x.dtype())) return ref::global_max_pool2d_forward(args);
  global_max_forward_f32(args);
}
void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args) {
  if (any_half({&args.dy, &args.dx})) {
    HalfWidening h(stream);
    global_max_pool2d_backward(stream, {.dy = h.in(args.dy),
                                        .indices = args.indices,
                                        .dx = h.out(args.dx, args.mode),
                                        .mode = args.mode});
    return h.finish();
  }
  if (use_reference(stream, args.dy.dtype())) return ref::global_max_pool2d_backward(args);
  global_max_backward_f32(args);
}

}  // namespace sprint::cpu
