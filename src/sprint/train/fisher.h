// fisher.h: the empirical Fisher information of every trainable parameter (FISH's importance scores): per-example
// squared gradients of the cross-entropy against the true labels, summed over the first N samples of a shuffled,
// optionally augmented pass over the training set, batch 1. The model runs in eval mode (BatchNorm normalises
// with its running statistics and leaves them unchanged) and in the precision it was built in.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sprint/data/augment.h"
#include "sprint/data/dataset.h"
#include "sprint/nn/models.h"
#include "sprint/train/parameter_mask.h"

namespace sprint::train {

struct FisherOptions {
  int64_t samples = 256;  ///< examples summed (at most the training set's size)
  uint64_t seed = 0;      ///< their order and augmentation draws
  data::AugmentOptions augment = {};
  MemoryFormat input_format = MemoryFormat::kContiguous;
  std::optional<MemoryFormat> activation_format;
  Device device = kCPU;
};

struct FisherScores {
  std::vector<NamedScores> scores;  ///< per trainable parameter (model order): f64 host, logical layout
  int64_t samples = 0;
  double seconds = 0.0;
};

/// Sum over `options.samples` examples of each parameter's squared gradient. The model's parameters must live on
/// `stream`'s device; its gradients are left cleared and its training mode as it was.
FisherScores empirical_fisher(const Stream& stream, nn::Model& model, const data::Dataset& train_set,
                              const FisherOptions& options);

}  // namespace sprint::train
