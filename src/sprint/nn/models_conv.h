// models_conv.h: convolutional members of the model zoo (cnn, resnet10, resnet18); see models.h.
#pragma once

#include "sprint/nn/models.h"

namespace sprint::nn {

/// Builds a convolutional model for (C, H, W) samples. Called by build_model().
std::shared_ptr<Sequential> build_conv_model(std::string_view name, const Shape& sample_shape, int64_t num_classes,
                                             Generator& rng, const ModelOptions& options);

}  // namespace sprint::nn
