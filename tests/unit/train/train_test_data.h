// train_test_data.h: the small synthetic image data set and the tiny conv model the training tests share.
#pragma once

#include <cstdint>
#include <memory>

#include "sprint/core/rng.h"
#include "sprint/data/dataset.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/nn/models.h"

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

/// For random_images(n, 6, 6, ...): conv 3x3 (2 -> 8, padding 1), BatchNorm, ReLU, flatten, optional dropout,
/// linear 288 -> 3, cross-entropy; weights from seed 11.
inline nn::Model tiny_conv_model(double dropout = 0.0) {
  Generator rng(11);
  nn::Model m;
  m.name = "tiny";
  m.net = std::make_shared<nn::Sequential>();
  nn::ConvOptions conv(2, 8, 3);
  conv.padding = 1;
  m.net->emplace<nn::Conv2d>(conv, rng);
  m.net->emplace<nn::BatchNorm2d>(nn::BatchNormOptions(8));
  m.net->emplace<nn::ReLU>();
  m.net->emplace<nn::Flatten>();
  if (dropout > 0.0) m.net->emplace<nn::Dropout>(dropout);
  m.net->emplace<nn::Linear>(nn::LinearOptions(8 * 36, 3), rng);
  m.loss = std::make_unique<nn::CrossEntropyLoss>();
  return m;
}

}  // namespace sprint::train::test_data
