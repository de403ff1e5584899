// layout4d.h: element offsets of 4-D (N, C, H, W) tensors, so that the reference loops read NCHW, NHWC and
// channel-blocked tensors alike: offset = n·sn + c·sc + h·sh + w·sw, or n·sn + (c / b)·sc + c % b + h·sh + w·sw for
// a blocked layout with b channels per block, or (n / b)·sn + (c / b)·sc + h·sh + w·sw + (c % b)·b + n % b for
// blocked convolution weights (K, C, R, S).
#pragma once

#include "sprint/core/tensor.h"

namespace sprint::cpu {

struct Offsets4d {
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;
  int64_t block = 0;         ///< channels per block; 0 = plain strides
  int64_t weight_block = 0;  ///< blocked weights: channels per block of K and of C; 0 = not blocked weights
  int64_t operator()(int64_t n, int64_t c, int64_t h, int64_t w) const {
    if (weight_block != 0) {
      const int64_t b = weight_block;
      return n / b * sn + c / b * sc + h * sh + w * sw + c % b * b + n % b;
    }
    const int64_t channel = block == 0 ? c * sc : c / block * sc + c % block;
    return n * sn + channel + h * sh + w * sw;
  }
};

/// Offsets of a 4-D tensor (NCHW, NHWC, channel-blocked, or a batch slice of any of them; blocked weights).
inline Offsets4d offsets4d(const Tensor& t) {
  SPRINT_ASSERT(t.ndim() == 4, "offsets4d needs a 4-D tensor, got {}", t.description());
  return {t.strides()[0], t.strides()[1], t.strides()[2], t.strides()[3], t.channel_block(), t.weight_block()};
}

/// Sets the channels that pad a channel-blocked f32 tensor's C to a whole block back to 0 (a no-op when C is a
/// multiple of the block or the tensor is not blocked). For the few oneDNN kernels that leave values there
/// (batch-norm backward): every other op relies on padding channels being 0.
inline void zero_channel_padding(const Tensor& t) {
  const int64_t b = t.channel_block(), channels = t.ndim() == 4 ? t.dim(1) : 0;
  if (b == 0 || channels % b == 0) return;
  float* p = t.data_as<float>();
  const int64_t last_block = channels / b, plane = t.dim(2) * t.dim(3);
  for (int64_t n = 0; n < t.dim(0); ++n) {
    float* block = p + n * t.strides()[0] + last_block * t.strides()[1];
    for (int64_t i = 0; i < plane; ++i)
      for (int64_t c = channels % b; c < b; ++c) block[i * b + c] = 0.0f;
  }
}

}  // namespace sprint::cpu
