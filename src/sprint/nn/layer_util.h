// layer_util.h: small helpers for layers: same_memory_order() and flat() (a dense NCHW or NHWC tensor seen as the
// 1-D vector element-wise ops take). What layers keep per micro-batch lives in PerBuffer (nn/buffer_key.h).
#pragma once

#include "sprint/core/tensor.h"

namespace sprint::nn {

/// True when equal-shaped dense tensors `a` and `b` keep their elements in the same memory order (same strides,
/// or a 4-D shape with C == 1 or H·W == 1, where NCHW and NHWC coincide), so flat() views line up.
inline bool same_memory_order(const Tensor& a, const Tensor& b) {
  if (a.channel_block() != b.channel_block()) return false;
  if (a.strides() == b.strides()) return true;
  return a.ndim() == 4 && a.shape() == b.shape() && (a.dim(1) == 1 || a.dim(2) * a.dim(3) == 1);
}

/// The memory of a dense tensor (contiguous, channels-last or channel-blocked, padding channels included) as a
/// contiguous 1-D tensor. Element-wise ops on it keep padding channels at 0 (f(0) = 0 for all of them).
inline Tensor flat(const Tensor& t) { return Tensor::wrap(t.data(), {t.storage_numel()}, t.dtype(), t.device()); }

}  // namespace sprint::nn
