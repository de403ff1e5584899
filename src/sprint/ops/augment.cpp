// augment.cpp (ops): validation + dispatch for translate_flip, and the ImageAugment check.
#include "sprint/ops/augment.h"

#include <algorithm>

#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
using TranslateFlipFn = void (*)(const Stream&, const TranslateFlipArgs&);
const BackendTable<TranslateFlipFn> kTranslateFlip{"translate_flip", &cpu::translate_flip,
                                                   SPRINT_CUDA_IMPL(cuda::translate_flip)};

bool known(CropPadMode mode) {
  switch (mode) {
    case CropPadMode::kReflect:
    case CropPadMode::kZero: return true;
  }
  return false;
}
bool known(FlipMode mode) {
  switch (mode) {
    case FlipMode::kNone:
    case FlipMode::kRandom:
    case FlipMode::kAlternating: return true;
  }
  return false;
}
}  // namespace

void translate_flip(const Stream& stream, const TranslateFlipArgs& a) {
  constexpr const char* op = "translate_flip";
  const MemoryFormat format = check_image(a.x, "input", op);
  check_image(a.out, "output", op);
  SPRINT_CHECK(format == MemoryFormat::kContiguous || format == MemoryFormat::kChannelsLast,
               "{}: input must be NCHW or NHWC, got {}", op, a.x.description());
  check_shape(a.out, a.x.shape(), "translate_flip output");
  check_floating(a.x, op);
  check_same_dtype(a.x.dtype(), {&a.out}, op);
  check_same_format(format, {&a.out}, op);
  const int64_t h = a.x.dim(2), w = a.x.dim(3);
  SPRINT_CHECK(a.shift_y > -h && a.shift_y < h && a.shift_x > -w && a.shift_x < w,
               "{}: shift ({}, {}) must be smaller than the image ({}x{}) in each axis", op, a.shift_y, a.shift_x, h,
               w);
  check_on_stream_device(stream, {&a.x, &a.out}, op);
  check_no_alias(a.out, {&a.x}, op);
  kTranslateFlip.select(stream.device())(stream, a);
}

void check_augment(const ImageAugment& a, int64_t h, int64_t w, const char* op) {
  SPRINT_CHECK(a.crop_padding >= 0 && a.crop_padding < std::min(h, w),
               "{}: crop padding must be in [0, {}) for {}x{} images, got {}", op, std::min(h, w), h, w,
               a.crop_padding);
  SPRINT_CHECK(a.cutout >= 0, "{}: cutout size must be >= 0, got {}", op, a.cutout);
  SPRINT_CHECK(known(a.pad_mode), "{}: unknown crop pad mode {}", op, static_cast<int>(a.pad_mode));
  SPRINT_CHECK(known(a.flip), "{}: unknown flip mode {}", op, static_cast<int>(a.flip));
}

}  // namespace sprint::ops
