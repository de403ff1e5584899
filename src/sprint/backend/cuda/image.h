// image.h (CUDA backend, host side): the memory layout of the 4-D (N, C, H, W) tensors of one image-op call.
// Every tensor of a call is dense NCHW or dense NHWC, all in one layout; a layout-neutral tensor (C == 1 or
// H·W == 1) holds the same bytes in both, so it may carry either set of strides. Kernels therefore address all
// tensors of a call with the formulas of ONE layout (the call's), never with per-tensor strides.
#pragma once

#include <initializer_list>

#include "sprint/core/error.h"
#include "sprint/core/tensor.h"

namespace sprint::cuda {

enum class ImageLayout : int { kNCHW = 0, kNHWC = 1 };

/// C == 1 or H·W == 1: the NCHW and NHWC byte layouts coincide.
inline bool layout_neutral(const Tensor& t) { return t.ndim() == 4 && (t.dim(1) == 1 || t.dim(2) * t.dim(3) == 1); }

/// The layout of a call: NHWC if some defined tensor is channels-last and not neutral, else NCHW. Throws
/// InvalidArgument when a defined tensor is not dense NCHW/NHWC or disagrees with the others.
inline ImageLayout image_layout(std::initializer_list<const Tensor*> tensors, const char* op) {
  bool nchw = false, nhwc = false;
  for (const Tensor* t : tensors) {
    if (t == nullptr || !t->defined()) continue;
    SPRINT_CHECK(t->ndim() == 4 && (t->is_contiguous() || t->is_channels_last()),
                 "{}: expected a dense NCHW or NHWC 4-D tensor, got {} with strides {}", op, t->description(),
                 t->strides().to_string());
    if (layout_neutral(*t)) continue;
    (t->is_contiguous() ? nchw : nhwc) = true;
  }
  SPRINT_CHECK(!(nchw && nhwc), "{}: the tensors of one call must share a memory format (NCHW or NHWC)", op);
  return nhwc ? ImageLayout::kNHWC : ImageLayout::kNCHW;
}

}  // namespace sprint::cuda
