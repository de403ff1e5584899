// layer_util.h: small helpers for layers: PerSlot (what a layer saves between forward and backward, one entry per
// RunContext slot) and flat() (a dense NCHW or NHWC tensor seen as the 1-D vector element-wise ops take).
#pragma once

#include <vector>

#include "sprint/core/tensor.h"

namespace sprint::nn {

template <class T>
class PerSlot {
 public:
  /// The entry of `slot`, created empty on first use.
  T& at(int slot) {
    SPRINT_CHECK(slot >= 0, "negative RunContext slot {}", slot);
    if (static_cast<size_t>(slot) >= entries_.size()) entries_.resize(static_cast<size_t>(slot) + 1);
    return entries_[static_cast<size_t>(slot)];
  }

 private:
  std::vector<T> entries_;
};

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
