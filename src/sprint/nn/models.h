// models.h: the model zoo behind `sprint train --model NAME`. Each builder composes layers at run time for a
// data set's sample shape ((C, H, W) images or (F) features) and class count, initialised from a seeded
// Generator. Models that end in LogSoftmax train with NllLoss (seed 003's recipe); the others with
// CrossEntropyLoss.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/nn/loss.h"
#include "sprint/nn/sequential.h"

namespace sprint::nn {

struct ModelOptions {
  std::vector<int64_t> hidden;   ///< hidden widths for mlp/mlp2/fc; empty = the model's defaults
  double label_smoothing = 0.0;  ///< for models trained with cross-entropy
  Reduction loss_reduction = Reduction::kMean;  ///< cross-entropy models: mean or sum over the batch
  DType dtype = DType::kF32;
  /// resnet10/resnet18/resnet18-imagenet: layer1.0.conv2 uses layer1.0.conv1's weight (seed 001's weight
  /// sharing in an early layer; the shared weight's gradient is the sum over both uses).
  bool share_weights = false;
};

struct Model {
  std::string name;
  std::shared_ptr<Sequential> net;
  std::unique_ptr<Loss> loss;
  /// Data-dependent initialisation (airbench94's whitening conv), or null: called once before training, while
  /// the parameters are still on the host, with the first `init_samples` training images as the loader
  /// normalises them: (N, C, H, W) f32 host.
  std::function<void(const Tensor& images)> init_from_data;
  int64_t init_samples = 0;
  /// Called at the start of every training epoch (0-based), or null: the model's own schedule (airbench94
  /// freezes its whitening bias after 3 epochs). The trainer refreshes the gradient flow after it.
  std::function<void(int64_t epoch)> on_epoch_start;
};

/// Builds `name` for inputs of `sample_shape` (no batch dimension). Throws InvalidArgument for an unknown
/// model (listing the known ones) or an input it cannot take.
Model build_model(std::string_view name, const Shape& sample_shape, int64_t num_classes, Generator& rng,
                  const ModelOptions& options = {});

struct ModelInfo {
  std::string name;
  std::string summary;
};
/// Every model name with a one-line summary (for --help).
const std::vector<ModelInfo>& model_catalog();
/// True for the zoo's convolutional models (cnn, resnet9/10/18, vgg16, airbench94).
bool has_convolutions(std::string_view name);

}  // namespace sprint::nn
