// channel_map.cuh (CUDA backend, device side): element-wise passes over a dense 4-D (N, C, H, W) tensor that
// need each element's channel (batch-norm normalisation and input gradient, convolution bias + activation)
// without an integer division per element. The tensor is [outer][inner] in memory:
//   NCHW: outer = N·C planes (channel = outer % C, one division per plane), inner = H·W;
//   NHWC: outer = N·H·W rows, inner = C (channel = inner index).
// A block covers `per` consecutive outer slices at a time with `span` = min(inner, blockDim) threads each, so
// small planes (7x7) and narrow rows (C = 16) still keep most threads busy. Included only by .cu files.
#pragma once

#include <algorithm>

#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"

namespace sprint::cuda {

/// Calls f(memory index, channel) for every element. blockDim.x must equal the launcher's kThreads.
template <bool kNhwc, class F>
__global__ void per_channel_map_kernel(F f, int64_t outer, int64_t inner, int64_t channels) {
  const int64_t span = min(inner, static_cast<int64_t>(blockDim.x));
  const int64_t per = static_cast<int64_t>(blockDim.x) / span;
  const int64_t local = threadIdx.x / span, i0 = threadIdx.x % span;
  if (local >= per) return;  // no barriers below
  for (int64_t tile = blockIdx.x; tile * per < outer; tile += gridDim.x) {
    const int64_t o = tile * per + local;
    if (o >= outer) break;
    const int64_t plane_channel = kNhwc ? 0 : o % channels;
    for (int64_t i = i0; i < inner; i += span) f(o * inner + i, kNhwc ? i : plane_channel);
  }
}

/// Queues per_channel_map_kernel over a dense (n, channels, hw) tensor in `layout`; no-op when it is empty.
template <class F>
void launch_per_channel_map(cudaStream_t stream, ImageLayout layout, int64_t n, int64_t channels, int64_t hw,
                            const F& f) {
  if (n == 0 || channels == 0 || hw == 0) return;
  const bool nhwc = layout == ImageLayout::kNHWC;
  const int64_t outer = nhwc ? n * hw : n * channels;
  const int64_t inner = nhwc ? channels : hw;
  const int64_t per = kThreads / std::min<int64_t>(inner, kThreads);
  const unsigned blocks = blocks_for(outer, per);
  if (nhwc) {
    per_channel_map_kernel<true, F><<<blocks, kThreads, 0, stream>>>(f, outer, inner, channels);
  } else {
    per_channel_map_kernel<false, F><<<blocks, kThreads, 0, stream>>>(f, outer, inner, channels);
  }
  SPRINT_CUDA_CHECK_LAUNCH("per_channel_map_kernel");
}

}  // namespace sprint::cuda
