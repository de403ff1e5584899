// augment.cpp (data): AugmentOptions -> the per-epoch ImageAugment, its checks and names.
#include "sprint/data/augment.h"

#include <fmt/format.h>

#include "sprint/core/error.h"
#include "sprint/ops/augment.h"

namespace sprint::data {

std::string AugmentOptions::describe() const {
  if (!enabled()) return "none";
  std::string text;
  auto add = [&](const std::string& part) { text += (text.empty() ? "" : ", ") + part; };
  if (crop_padding > 0) add(fmt::format("crop {} ({})", crop_padding, crop_pad_mode_name(crop_pad_mode)));
  if (flip != FlipMode::kNone) add(fmt::format("flip {}", flip_mode_name(flip)));
  if (cutout > 0) add(fmt::format("cutout {}", cutout));
  return text;
}

ImageAugment image_augment(const AugmentOptions& o, uint64_t seed, int64_t epoch) {
  return ImageAugment{.crop_padding = o.crop_padding,
                      .pad_mode = o.crop_pad_mode,
                      .flip = o.flip,
                      .cutout = o.cutout,
                      .seed = seed,
                      .epoch = epoch};
}

void check_augment_options(const AugmentOptions& o, const Dataset& dataset, const char* who) {
  SPRINT_CHECK(o.crop_padding >= 0 && o.cutout >= 0, "{}: crop padding and cutout size must be >= 0, got {} and {}",
               who, o.crop_padding, o.cutout);
  if (!o.enabled()) return;
  const Tensor& x = dataset.inputs;
  SPRINT_CHECK(x.defined() && x.dtype() == DType::kU8 && x.ndim() == 4,
               "{}: augmentation ({}) needs an image data set (u8 (N, C, H, W)); {} has {}", who, o.describe(),
               dataset.name, x.defined() ? x.description() : std::string("no inputs"));
  ops::check_augment(image_augment(o, 0, 0), x.dim(2), x.dim(3), who);
}

std::string_view crop_pad_mode_name(CropPadMode mode) {
  switch (mode) {
    case CropPadMode::kReflect: return "reflect";
    case CropPadMode::kZero: return "zero";
  }
  return "?";
}

std::string_view flip_mode_name(FlipMode mode) {
  switch (mode) {
    case FlipMode::kNone: return "none";
    case FlipMode::kRandom: return "random";
    case FlipMode::kAlternating: return "alternate";
  }
  return "?";
}

CropPadMode parse_crop_pad_mode(std::string_view name) {
  for (CropPadMode m : {CropPadMode::kReflect, CropPadMode::kZero})
    if (name == crop_pad_mode_name(m)) return m;
  SPRINT_THROW(InvalidArgument, "unknown crop mode '{}': expected reflect or zero", name);
}

FlipMode parse_flip_mode(std::string_view name) {
  for (FlipMode m : {FlipMode::kNone, FlipMode::kRandom, FlipMode::kAlternating})
    if (name == flip_mode_name(m)) return m;
  SPRINT_THROW(InvalidArgument, "unknown flip mode '{}': expected none, random or alternate", name);
}

}  // namespace sprint::data
