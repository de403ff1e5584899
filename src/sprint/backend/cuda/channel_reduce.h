// channel_reduce.h (CUDA backend): per-channel reductions of 4-D activations shared by batch norm (norm.cu) and
// the convolution bias gradient (cudnn_conv.cpp). Implemented in norm.cu.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "sprint/backend/cuda/image.h"
#include "sprint/core/dtype.h"
#include "sprint/runtime/stream.h"

namespace sprint::cuda {

/// db[k] (=|+=) Σ_{n, h, w} dy[n, k, h, w] for a dense (N, K, H, W) `dy` in `layout`; db is dy's dtype
/// (f32 / f16 / bf16) or f32 beside f16/bf16 dy (mixed precision). Deterministic (fixed-order double sums through
/// per-block partials in the stream's StreamWorkspace). With N·H·W == 0 the sums are 0. Queues on `stream`, which must be `stream`'s native one.
void launch_bias_grad(const Stream& stream, DType dtype, ImageLayout layout, const void* dy, int64_t n,
                      int64_t channels, int64_t hw, DType db_dtype, void* db, bool accumulate);

}  // namespace sprint::cuda
