// init.cpp: host-side initialisers.
#include "sprint/nn/init.h"

#include <cmath>

namespace sprint::nn::init {
namespace {
template <class F>
void for_each_value(const Tensor& t, F&& make) {
  SPRINT_CHECK(t.device().is_cpu() && t.is_contiguous(), "initialisers fill contiguous host tensors, got {}",
               t.description());
  const int64_t n = t.numel();
  if (t.dtype() == DType::kF32) {
    float* p = t.data_as<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(make());
  } else if (t.dtype() == DType::kF64) {
    double* p = t.data_as<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = make();
  } else {
    SPRINT_THROW(Unsupported, "initialisers support f32 and f64 host tensors, got {}", t.description());
  }
}
}  // namespace

void uniform(const Tensor& t, double low, double high, Generator& rng) {
  for_each_value(t, [&] { return low + (high - low) * static_cast<double>(rng.uniform()); });
}

void normal(const Tensor& t, double mean, double std, Generator& rng) {
  for_each_value(t, [&] { return mean + std * static_cast<double>(rng.normal()); });
}

void constant(const Tensor& t, double value) {
  for_each_value(t, [&] { return value; });
}

void pytorch_default_weight(const Tensor& weight, int64_t fan_in, Generator& rng) {
  SPRINT_CHECK(fan_in > 0, "fan_in must be positive");
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  uniform(weight, -bound, bound, rng);
}

void pytorch_default_bias(const Tensor& bias, int64_t fan_in, Generator& rng) {
  pytorch_default_weight(bias, fan_in, rng);
}

void kaiming_normal(const Tensor& weight, int64_t fan_in, Generator& rng) {
  SPRINT_CHECK(fan_in > 0, "fan_in must be positive");
  normal(weight, 0.0, std::sqrt(2.0 / static_cast<double>(fan_in)), rng);
}

}  // namespace sprint::nn::init
