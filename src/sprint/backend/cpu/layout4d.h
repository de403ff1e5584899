// layout4d.h: element offsets of 4-D (N, C, H, W) tensors, so that the reference loops read NCHW, NHWC and
// channel-blocked tensors alike: offset = n·sn + c·sc + h·sh + w·sw, or n·sn + (c / b)·sc + c % b + h·sh + w·sw for
// a blocked layout with b channels per block.
#pragma once

#include "sprint/core/tensor.h"

namespace sprint::cpu {

struct Offsets4d {
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;
  int64_t block = 0;  ///< channels per block; 0 = plain strides
  int64_t operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    const int64_t channel = block == 0 ? c * sc : c / block * sc + c % block;
    return n * sn + channel + h * sh + w * sw;
  }
};

/// Offsets of a 4-D tensor (NCHW, NHWC, channel-blocked, or a batch slice of any of them).
inline Offsets4d offsets4d(const Tensor& t) {
  SPRINT_ASSERT(t.ndim() == 4, "offsets4d needs a 4-D tensor, got {}", t.description());
  return {t.strides()[0], t.strides()[1], t.strides()[2], t.strides()[3], t.channel_block()};
}

}  // namespace sprint::cpu
