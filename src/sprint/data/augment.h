// augment.h (data): AugmentOptions, the training augmentation of image data sets that the loaders apply while
// they gather a batch: random translation (pad + crop), left-right flip (random or airbench's alternating) and
// cutout. Every random value is a counter-based hash of (loader seed, epoch, sample index in the data set), so
// batches are identical for any num_workers / prefetch and on the CPU and CUDA paths (backend/api/augment.h holds
// the draws and the oracle cpu::ref::augment_sample). Augmentation is for training loaders only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sprint/data/dataset.h"
#include "sprint/ops/augment.h"

namespace sprint::data {

using sprint::CropPadMode;
using sprint::FlipMode;

struct AugmentOptions {
  /// r > 0: translate by up to ±r pixels per axis (pad by r, random H×W crop); 0 = off. r < min(H, W).
  int crop_padding = 0;
  CropPadMode crop_pad_mode = CropPadMode::kReflect;
  FlipMode flip = FlipMode::kNone;
  /// Side of one square of zeros (normalised units) at a uniform random centre, clipped at the borders; 0 = off.
  int cutout = 0;

  bool enabled() const { return crop_padding > 0 || flip != FlipMode::kNone || cutout > 0; }
  /// "crop 2 (reflect), flip alternating, cutout 8", or "none".
  std::string describe() const;
};

/// The per-epoch augmentation a loader with seed `seed` hands to gather_normalize in epoch `epoch`.
ImageAugment image_augment(const AugmentOptions& options, uint64_t seed, int64_t epoch);

/// Throws InvalidArgument ("<who>: ...") unless `options` can apply to `dataset`: augmentation needs u8 images
/// (N, C, H, W) and a crop padding in [0, min(H, W)); negative sizes never pass, disabled options pass on any data.
void check_augment_options(const AugmentOptions& options, const Dataset& dataset, const char* who);

std::string_view crop_pad_mode_name(CropPadMode mode);  ///< "reflect" | "zero"
std::string_view flip_mode_name(FlipMode mode);         ///< "none" | "random" | "alternate"
/// Inverses of the names above; throw InvalidArgument naming the accepted values.
CropPadMode parse_crop_pad_mode(std::string_view name);
FlipMode parse_flip_mode(std::string_view name);

}  // namespace sprint::data
