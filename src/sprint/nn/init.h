// init.h: parameter initialisers matching PyTorch's defaults, so that recipes transfer. All fill host (CPU)
// tensors from an explicit Generator: the same seed gives the same weights bit for bit.
#pragma once

#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"

namespace sprint::nn::init {

/// U(low, high) into a contiguous f32/f64 host tensor.
void uniform(const Tensor& t, double low, double high, Generator& rng);
/// N(mean, std²).
void normal(const Tensor& t, double mean, double std, Generator& rng);
void constant(const Tensor& t, double value);
/// PyTorch's default for Linear/Conv weights: kaiming_uniform(a = sqrt(5)), i.e. U(±1/sqrt(fan_in)).
void pytorch_default_weight(const Tensor& weight, int64_t fan_in, Generator& rng);
/// PyTorch's default for Linear/Conv biases: U(±1/sqrt(fan_in)).
void pytorch_default_bias(const Tensor& bias, int64_t fan_in, Generator& rng);
/// Kaiming (He) normal for ReLU: N(0, 2 / fan_in).
void kaiming_normal(const Tensor& weight, int64_t fan_in, Generator& rng);

}  // namespace sprint::nn::init
