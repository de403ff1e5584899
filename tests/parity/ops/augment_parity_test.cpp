// augment_parity_test.cpp: the augmentation ops on every backend against the CPU reference: translate_flip (the
// test-time views, NCHW / NHWC) and gather_normalize with a training augmentation (translation with reflect or
// zero borders, flips, cutout).
#include <gtest/gtest.h>

#include "sprint/ops/augment.h"
#include "sprint/ops/data.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

ParityCase translate_flip_case(const char* name, MemoryFormat format, int shift, bool flip) {
  return ParityCase{
      .name = name,
      .make_inputs =
          [](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor({3, 4, 5, 6}, DType::kF64, rng)};
          },
      .run =
          [shift, flip](const Stream& s, const std::vector<Tensor>& v) {
            Tensor out = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator(), v[0].memory_format());
            ops::translate_flip(s, {.x = v[0], .out = out, .shift_y = shift, .shift_x = -2 * shift, .flip = flip});
            return std::vector<Tensor>{out};
          },
      .input_format = format};
}

TEST(AugmentParity, TranslateFlipContiguous) {
  testing::run_parity(translate_flip_case("translate_flip/nchw/-1/mirror", MemoryFormat::kContiguous, -1, true));
  testing::run_parity(translate_flip_case("translate_flip/nchw/+1", MemoryFormat::kContiguous, 1, false));
}

TEST(AugmentParity, TranslateFlipChannelsLast) {
  testing::run_parity(translate_flip_case("translate_flip/nhwc/+1/mirror", MemoryFormat::kChannelsLast, 1, true));
  testing::run_parity(translate_flip_case("translate_flip/nhwc/-2", MemoryFormat::kChannelsLast, -2, false));
}

// u8 images (M, 3, 6, 5) gathered with an augmentation; the third input's dtype is the output dtype.
ParityCase augmented_gather_case(const char* name, MemoryFormat format, ImageAugment augment) {
  return ParityCase{
      .name = name,
      .make_inputs =
          [](Generator& rng) {
            Tensor bytes = Tensor::empty({7, 3, 6, 5}, DType::kU8);
            for (int64_t i = 0; i < bytes.numel(); ++i)
              bytes.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng.below(256));
            Tensor idx = Tensor::empty({11}, DType::kI32);
            for (int64_t i = 0; i < 11; ++i) idx.data_as<int32_t>()[i] = static_cast<int32_t>(rng.below(7));
            return std::vector<Tensor>{bytes, idx, testing::random_tensor({1}, DType::kF64, rng)};
          },
      .run =
          [format, augment](const Stream& s, const std::vector<Tensor>& v) {
            static const std::vector<float> mean = {0.4914f, 0.4822f, 0.4465f}, std = {0.2470f, 0.2435f, 0.2616f};
            Tensor out = Tensor::empty({11, 3, 6, 5}, v[2].dtype(), s.context().allocator(), format);
            ops::gather_normalize(
                s, {.src = v[0], .indices = v[1], .out = out, .mean = mean, .std = std, .augment = augment});
            return std::vector<Tensor>{out};
          }};
}

TEST(AugmentParity, AugmentedGatherReflect) {
  const ImageAugment a{.crop_padding = 2, .flip = FlipMode::kAlternating, .cutout = 3, .seed = 4, .epoch = 1};
  testing::run_parity(augmented_gather_case("gather_normalize+augment/reflect/nchw", MemoryFormat::kContiguous, a));
  testing::run_parity(augmented_gather_case("gather_normalize+augment/reflect/nhwc", MemoryFormat::kChannelsLast, a));
}

TEST(AugmentParity, AugmentedGatherZero) {
  const ImageAugment a{
      .crop_padding = 3, .pad_mode = CropPadMode::kZero, .flip = FlipMode::kRandom, .seed = 8, .epoch = 5};
  testing::run_parity(augmented_gather_case("gather_normalize+augment/zero/nchw", MemoryFormat::kContiguous, a));
  testing::run_parity(augmented_gather_case("gather_normalize+augment/zero/nhwc", MemoryFormat::kChannelsLast, a));
}

}  // namespace
}  // namespace sprint
