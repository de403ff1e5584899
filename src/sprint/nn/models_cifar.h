// models_cifar.h: the CIFAR-10 speed-run nets of the zoo: resnet9 (cifar10-fast's ResNet-9), vgg16 (VGG-16 with
// BatchNorm, one linear layer) and airbench94 (the airbench94 net); see models.h.
#pragma once

#include <optional>

#include "sprint/nn/models.h"

namespace sprint::nn {

/// Builds resnet9, vgg16 or airbench94 for (C, H, W) samples; null for any other name. Called by build_model().
std::optional<Model> build_cifar_model(std::string_view name, const Shape& sample_shape, int64_t num_classes,
                                       Generator& rng, const ModelOptions& options);

}  // namespace sprint::nn
