// init.h: parameter initialisers matching PyTorch's defaults, so that recipes transfer. All fill host (CPU)
// tensors from an explicit Generator: the same seed gives the same weights bit for bit.
#pragma once

#include <vector>

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

/// torch.nn.init.dirac_ on the first min(K, C) filters of a (K, C, R, S) weight: filter k becomes the identity
/// kernel of channel k (1 at the centre (R/2, S/2), 0 elsewhere); the other filters keep their values.
void dirac_first_filters(const Tensor& weight);

/// Symmetric eigen-decomposition (cyclic Jacobi) of the n x n row-major matrix `a`: eigenvalues ascending, and
/// eigenvectors as the rows of `vectors` (row i belongs to value i), as torch.linalg.eigh returns them (columns).
void symmetric_eigen(std::vector<double> a, int64_t n, std::vector<double>& values, std::vector<double>& vectors);

/// airbench's whitening initialisation of a (2E, C, R, S) conv weight from images (N, C, H, W) (f32 or f64,
/// contiguous host): the covariance of every R x S patch (flattened as (C, R, S)), its E = C·R·S eigenvectors
/// ordered by decreasing eigenvalue, scaled by 1 / sqrt(lambda + eps), then the same filters negated.
void whitening(const Tensor& weight, const Tensor& images, double eps = 5e-4);

}  // namespace sprint::nn::init
