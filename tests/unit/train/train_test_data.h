// train_test_data.h: the small synthetic image data set the training tests share.
#pragma once

#include <cstdint>

#include "sprint/core/rng.h"
#include "sprint/data/dataset.h"

namespace sprint::train::test_data {

/// n random u8 images (n, 2, h, w) with 3 classes, seeded; channel means 0.5 / 0.4, stds 0.25 / 0.3.
inline data::Dataset random_images(int64_t n, int64_t h, int64_t w, uint64_t seed) {
  data::Dataset d;
  d.name = "images";
  d.inputs = Tensor::empty({n, 2, h, w}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  Generator rng(seed);
  for (int64_t i = 0; i < d.inputs.numel(); ++i) d.inputs.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng.below(256));
  for (int64_t i = 0; i < n; ++i) d.labels.data_as<int32_t>()[i] = static_cast<int32_t>(rng.below(3));
  d.num_classes = 3;
  d.class_names = {"a", "b", "c"};
  d.mean = {0.5f, 0.4f};
  d.std = {0.25f, 0.3f};
  return d;
}

}  // namespace sprint::train::test_data
