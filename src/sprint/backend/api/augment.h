// augment.h (backend interface): image augmentation shared by the CPU and CUDA backends.
//   Training (fused into gather_normalize): per sample, a random flip, a random translation by up to ±r (pad by r
//   with reflect or zero borders, then an H×W crop) and a cutout square of zeros; every random value is a
//   counter-based hash of (seed, epoch, sample index), so any thread, batch split or device draws the same ones.
//   Test-time views (translate_flip): out = mirror?(translate(x)) with reflect borders, airbench's TTA views.
// The inline functions below compile for the host and (under nvcc) the device: both backends call the very same
// code for the random draws and the index arithmetic. Shapes: images (N, C, H, W).
#pragma once

#include <cstdint>
#include <span>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

#if defined(__CUDACC__)
#define SPRINT_HOST_DEVICE __host__ __device__
#else
#define SPRINT_HOST_DEVICE
#endif

namespace sprint {

/// What fills the border of a translated image: numpy.pad's mode='reflect' (edge not repeated: index -1 is 1) or
/// mode='constant' with 0 (zero in normalised units, i.e. the channel mean).
enum class CropPadMode : uint8_t { kReflect, kZero };

/// kRandom: each sample flipped left-right with probability 1/2, drawn anew every epoch. kAlternating (airbench):
/// flip(sample, epoch) = base(seed, sample) XOR (epoch odd): epoch 0 flips a pseudo-random half and every later
/// epoch flips exactly the samples the previous one did not.
enum class FlipMode : uint8_t { kNone, kRandom, kAlternating };

/// One epoch's augmentation of image samples (a value type: cheap to copy into a kernel's arguments).
/// Order per sample: flip, then translate (pad by crop_padding, crop at a random offset), then cutout.
struct ImageAugment {
  int crop_padding = 0;  ///< r: translation by up to ±r pixels in each axis, uniform over the 2r+1 values; 0 = off
  CropPadMode pad_mode = CropPadMode::kReflect;
  FlipMode flip = FlipMode::kNone;
  /// Side of the square of zeros; 0 = off. Its centre is uniform over the H×W pixels; the square covers rows
  /// [cy - cutout/2, cy - cutout/2 + cutout) (likewise columns), clipped at the borders.
  int cutout = 0;
  uint64_t seed = 0;
  int64_t epoch = 0;

  SPRINT_HOST_DEVICE bool enabled() const { return crop_padding > 0 || flip != FlipMode::kNone || cutout > 0; }
};

/// One sample's draw: out(y, x) = flipped image at (y + shift_y, x + shift_x), borders per pad_mode, and zeros on
/// rows [cut_y, cut_y + cutout) × columns [cut_x, cut_x + cutout).
struct SampleAugment {
  int shift_y = 0, shift_x = 0;  ///< in [-r, r]
  bool flip = false;
  int cut_y = 0, cut_x = 0;  ///< top-left corner of the cutout square (may lie outside the image)
};

// ------------------------------------------------------------------------------------------------------------
// Counter-based draws (identical on host and device)
// ------------------------------------------------------------------------------------------------------------
namespace augment_detail {
inline constexpr uint64_t kEpochSalt = 0x6175676d656e7431ull;  // "augment1"
inline constexpr uint64_t kFlipSalt = 0x666c697062617365ull;   // "flipbase"

/// splitmix64's finaliser of x + golden ratio: a bijective 64-bit mixer.
SPRINT_HOST_DEVICE inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
/// The random word number `counter` of the stream `key`.
SPRINT_HOST_DEVICE inline uint64_t hash64(uint64_t key, uint64_t counter) { return mix64(key ^ mix64(counter)); }
/// Uniform in [0, n) from 32 random bits (multiply-high; bias below 2^-32 · n).
SPRINT_HOST_DEVICE inline int below(uint64_t bits32, int64_t n) {
  return static_cast<int>(((bits32 & 0xffffffffull) * static_cast<uint64_t>(n)) >> 32);
}
}  // namespace augment_detail

/// The draw of sample `sample` (its index in the data set) of an (h, w) image for `a`'s seed and epoch.
SPRINT_HOST_DEVICE inline SampleAugment augment_draw(const ImageAugment& a, int64_t sample, int64_t h, int64_t w) {
  using namespace augment_detail;
  const uint64_t epoch_key = hash64(a.seed ^ kEpochSalt, static_cast<uint64_t>(a.epoch));
  const uint64_t n = static_cast<uint64_t>(sample);
  SampleAugment s;
  if (a.crop_padding > 0) {
    const uint64_t bits = hash64(epoch_key, 3 * n);
    s.shift_y = below(bits, 2 * a.crop_padding + 1) - a.crop_padding;
    s.shift_x = below(bits >> 32, 2 * a.crop_padding + 1) - a.crop_padding;
  }
  switch (a.flip) {
    case FlipMode::kNone: break;
    case FlipMode::kRandom: s.flip = (hash64(epoch_key, 3 * n + 1) >> 63) != 0; break;
    case FlipMode::kAlternating:
      s.flip = ((hash64(a.seed ^ kFlipSalt, n) >> 63) ^ static_cast<uint64_t>(a.epoch & 1)) != 0;
      break;
  }
  if (a.cutout > 0) {
    const uint64_t bits = hash64(epoch_key, 3 * n + 2);
    s.cut_y = below(bits, h) - a.cutout / 2;
    s.cut_x = below(bits >> 32, w) - a.cutout / 2;
  }
  return s;
}

// ------------------------------------------------------------------------------------------------------------
// Index arithmetic
// ------------------------------------------------------------------------------------------------------------

/// numpy.pad(mode='reflect') index: i in [-(n-1), 2n-2] -> [0, n).
SPRINT_HOST_DEVICE inline int64_t reflect_index(int64_t i, int64_t n) {
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return i;
}

/// Index of the padded image at i + shift in [0, n), or -1 for a zero border.
SPRINT_HOST_DEVICE inline int64_t padded_index(int64_t i, int64_t shift, int64_t n, CropPadMode mode) {
  const int64_t j = i + shift;
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case CropPadMode::kReflect: return reflect_index(j, n);
    case CropPadMode::kZero: return -1;
  }
  return -1;
}

/// Source pixel y·w + x of output pixel (y, x) of a sample drawn as `s`, or -1 where the output is zero.
SPRINT_HOST_DEVICE inline int64_t augment_source_pixel(const ImageAugment& a, const SampleAugment& s, int64_t y,
                                                       int64_t x, int64_t h, int64_t w) {
  if (a.cutout > 0 && y >= s.cut_y && y < s.cut_y + a.cutout && x >= s.cut_x && x < s.cut_x + a.cutout) return -1;
  const int64_t sy = padded_index(y, s.shift_y, h, a.pad_mode);
  const int64_t sx = padded_index(x, s.shift_x, w, a.pad_mode);
  if (sy < 0 || sx < 0) return -1;
  return sy * w + (s.flip ? w - 1 - sx : sx);  // the flip came first: column sx of the flipped image
}

/// Source column of output column x of translate_flip (translate by `shift`, then mirror when `flip`).
SPRINT_HOST_DEVICE inline int64_t translate_flip_column(int64_t x, int64_t shift, int64_t w, bool flip) {
  return reflect_index((flip ? w - 1 - x : x) + shift, w);
}

// ------------------------------------------------------------------------------------------------------------
// translate_flip: the test-time views
// ------------------------------------------------------------------------------------------------------------

/// out[n, c, y, x] = x[n, c, reflect(y + shift_y), reflect(x' + shift_x)] with x' = W-1-x when `flip`, else x:
/// translate(x) = reflect-pad by |shift| and crop shifted by (shift_y, shift_x) (airbench's batch_crop of a
/// reflect-padded batch: shift -1 is the crop [0, H) of the 1-padded image, +1 the crop [2, H+2)), then mirror.
struct TranslateFlipArgs {
  const Tensor& x;    ///< (N, C, H, W) floating, NCHW or NHWC
  const Tensor& out;  ///< x's shape, dtype and memory format; overwritten; must not overlap x
  int shift_y = 0;    ///< |shift_y| < H
  int shift_x = 0;    ///< |shift_x| < W
  bool flip = false;
};

namespace cpu {
/// Row-wise copies over a column map (memory-bound).
void translate_flip(const Stream& stream, const TranslateFlipArgs& args);
namespace ref {
/// Plain loops over every element through the strides.
void translate_flip(const TranslateFlipArgs& args);
/// The oracle of the training augmentation on one normalised sample, written as numpy would: in and out are
/// (C, H, W) contiguous; out = cutout(crop(pad(flip(in)))) for the draw `s` of `a` (pad_mode, crop_padding,
/// cutout are read from `a`). |s.shift_y| and |s.shift_x| must not exceed a.crop_padding.
void augment_sample(std::span<const double> in, std::span<double> out, int64_t c, int64_t h, int64_t w,
                    const ImageAugment& a, const SampleAugment& s);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void translate_flip(const Stream& stream, const TranslateFlipArgs& args);
}  // namespace cuda

}  // namespace sprint
