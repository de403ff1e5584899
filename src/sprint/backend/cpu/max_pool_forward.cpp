// max_pool_forward.cpp (CPU): the f32 fast path of max-pool forward, values and i32 input-plane indices in one
// pass, for NCHW, NHWC and channel-blocked tensors. oneDNN's pooling was the slowest op of the cnn model (its
// NCHW kernel is a plain loop, 17 ms for a 64x32x28x28 input on a Zen 3 core; its NHWC one 6 ms with the
// workspace conversion), while this pass is memory-bound. Semantics match the reference exactly: the first in-bounds tap of a window seeds
// the maximum and only a strictly greater value replaces it (first maximum on ties; a NaN seed stays, a later
// NaN never wins). Batches are split over the context's threads.
#include "sprint/backend/cpu/max_pool_forward.h"

#include <algorithm>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/layout4d.h"

namespace sprint::cpu {
namespace {

struct Window {
  int64_t h0, h1, w0, w1;  // in-bounds input rows [h0, h1) and columns [w0, w1)
};

inline Window window_of(int64_t p, int64_t q, int64_t h_in, int64_t w_in, const Pool2dParams& prm) {
  const int64_t hs = p * prm.stride - prm.padding, ws = q * prm.stride - prm.padding;
  return {std::max<int64_t>(hs, 0), std::min(hs + prm.kernel, h_in), std::max<int64_t>(ws, 0),
          std::min(ws + prm.kernel, w_in)};
}

/// One sample stored NHWC (channel stride 1): the inner loop runs over C, compare-and-select, vectorised.
void sample_nhwc(const float* x, float* y, int32_t* idx, const Offsets4d& xo, const Offsets4d& yo,
                 const Offsets4d& io, int64_t channels, int64_t h_in, int64_t w_in, int64_t p_out, int64_t q_out,
                 const Pool2dParams& prm) {
  for (int64_t p = 0; p < p_out; ++p)
    for (int64_t q = 0; q < q_out; ++q) {
      const Window win = window_of(p, q, h_in, w_in, prm);
      float* __restrict best = y + p * yo.sh + q * yo.sw;
      int32_t* __restrict where = idx ? idx + p * io.sh + q * io.sw : nullptr;
      bool seeded = false;
      for (int64_t h = win.h0; h < win.h1; ++h)
        for (int64_t w = win.w0; w < win.w1; ++w) {
          const float* __restrict v = x + h * xo.sh + w * xo.sw;
          const int32_t here = static_cast<int32_t>(h * w_in + w);
          if (!seeded) {
            std::copy(v, v + channels, best);
            if (where) std::fill(where, where + channels, here);
            seeded = true;
            continue;
          }
          if (where) {
            for (int64_t c = 0; c < channels; ++c) {
              const bool greater = v[c] > best[c];
              best[c] = greater ? v[c] : best[c];
              where[c] = greater ? here : where[c];
            }
          } else {
            for (int64_t c = 0; c < channels; ++c) best[c] = v[c] > best[c] ? v[c] : best[c];
          }
        }
    }
}

/// One sample stored NCHW (width stride 1): plane by plane, row by row.
void sample_nchw(const float* x, float* y, int32_t* idx, const Offsets4d& xo, const Offsets4d& yo,
                 const Offsets4d& io, int64_t channels, int64_t h_in, int64_t w_in, int64_t p_out, int64_t q_out,
                 const Pool2dParams& prm) {
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = x + c * xo.sc;
    for (int64_t p = 0; p < p_out; ++p)
      for (int64_t q = 0; q < q_out; ++q) {
        const Window win = window_of(p, q, h_in, w_in, prm);
        float best = plane[win.h0 * xo.sh + win.w0];
        int32_t where = static_cast<int32_t>(win.h0 * w_in + win.w0);
        for (int64_t h = win.h0; h < win.h1; ++h)
          for (int64_t w = win.w0; w < win.w1; ++w) {
            const float v = plane[h * xo.sh + w];
            if (v > best) {
              best = v;
              where = static_cast<int32_t>(h * w_in + w);
            }
          }
        y[c * yo.sc + p * yo.sh + q] = best;
        if (idx) idx[c * io.sc + p * io.sh + q] = where;
      }
  }
}

}  // namespace

void max_pool_forward_f32(const Stream& stream, const MaxPool2dForwardArgs& a) {
  const int threads = sync_threads(stream);
  const float* x = a.x.data_as<float>();
  float* y = a.y.data_as<float>();
  int32_t* idx = a.indices.defined() ? a.indices.data_as<int32_t>() : nullptr;
  const Offsets4d xo = offsets4d(a.x), yo = offsets4d(a.y);
  const Offsets4d io = a.indices.defined() ? offsets4d(a.indices) : Offsets4d{};
  const int64_t n_batch = a.y.dim(0), channels = a.y.dim(1), p_out = a.y.dim(2), q_out = a.y.dim(3);
  const int64_t h_in = a.x.dim(2), w_in = a.x.dim(3);
  // Channel-blocked tensors are N·ceil(C/b) NHWC images of b channels each (padding channels included: they
  // hold zeros and pool to zeros). NHWC when channels are the unit stride (C > 1); a C == 1 tensor is both, and
  // the NCHW loop handles it.
  const int64_t block = a.x.channel_block();
  const int64_t groups = block != 0 ? (channels + block - 1) / block : 1;
  const int64_t lanes = block != 0 ? block : channels;
  const bool nhwc =
      block != 0 || (a.x.strides()[1] == 1 && a.y.strides()[1] == 1 && (!idx || io.sc == 1) && channels > 1);
  const bool parallel = threads > 1 && n_batch * groups > 1 && a.x.numel() >= (int64_t{1} << 15);
#pragma omp parallel for num_threads(threads) schedule(static) if (parallel)
  for (int64_t image = 0; image < n_batch * groups; ++image) {
    const int64_t n = image / groups, g = image % groups;
    const float* xn = x + n * xo.sn + g * (block != 0 ? xo.sc : 0);
    float* yn = y + n * yo.sn + g * (block != 0 ? yo.sc : 0);
    int32_t* in = idx ? idx + n * io.sn + g * (block != 0 ? io.sc : 0) : nullptr;
    if (nhwc) {
      sample_nhwc(xn, yn, in, xo, yo, io, lanes, h_in, w_in, p_out, q_out, a.params);
    } else {
      sample_nchw(xn, yn, in, xo, yo, io, channels, h_in, w_in, p_out, q_out, a.params);
    }
  }
}

}  // namespace sprint::cpu
