// layout4d.h: element offsets of 4-D (N, C, H, W) tensors from their strides, so that the reference loops read
// NCHW and NHWC tensors alike (offset = n·sn + c·sc + h·sh + w·sw).
#pragma once

#include "sprint/core/tensor.h"

namespace sprint::cpu {

struct Offsets4d {
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;
  int64_t operator()(int64_t n, int64_t c, int64_t h, int64_t w) const { return n * sn + c * sc + h * sh + w * sw; }
};

/// Strides of a 4-D tensor (any strides: NCHW, NHWC, or a batch slice of either).
inline Offsets4d offsets4d(const Tensor& t) {
  SPRINT_ASSERT(t.ndim() == 4, "offsets4d needs a 4-D tensor, got {}", t.description());
  return {t.strides()[0], t.strides()[1], t.strides()[2], t.strides()[3]};
}

}  // namespace sprint::cpu
