// small_cnn.h: the small CNN the GPU training tests share: conv (1 -> 4 channels, 3x3), batch norm, ReLU, 2x2
// max-pooling, dropout and a classifier, for (N, 1, 8, 8) inputs and 5 classes (seven top-level layers).
#pragma once

#include <memory>

#include "sprint/core/rng.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/models.h"
#include "sprint/nn/pool.h"

namespace sprint::testing {

inline nn::Model small_cnn(Generator& rng) {
  nn::Model m;
  m.name = "cnn";
  m.net = std::make_shared<nn::Sequential>();
  m.net->emplace<nn::Conv2d>(nn::ConvOptions(1, 4, 3).with_padding(1), rng);
  m.net->emplace<nn::BatchNorm2d>(nn::BatchNormOptions(4));
  m.net->emplace<nn::ReLU>();
  m.net->emplace<nn::MaxPool2d>(2);
  m.net->emplace<nn::Flatten>();
  m.net->emplace<nn::Dropout>(0.2);
  m.net->emplace<nn::Linear>(nn::LinearOptions(64, 5), rng);
  m.loss = std::make_unique<nn::CrossEntropyLoss>();
  return m;
}

}  // namespace sprint::testing
