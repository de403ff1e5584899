// init.cpp: host-side initialisers.
#include "sprint/nn/init.h"

#include <algorithm>
#include <cmath>
#include <numeric>

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

void dirac_first_filters(const Tensor& weight) {
  SPRINT_CHECK(weight.device().is_cpu() && weight.is_contiguous() && weight.ndim() == 4,
               "dirac_first_filters wants a contiguous host (K, C, R, S) weight, got {}", weight.description());
  SPRINT_CHECK(weight.dtype() == DType::kF32 || weight.dtype() == DType::kF64,
               "dirac_first_filters supports f32 and f64, got {}", weight.description());
  const int64_t k = weight.dim(0), c = weight.dim(1), r = weight.dim(2), s = weight.dim(3);
  const int64_t filters = std::min(k, c), filter_size = c * r * s;
  auto set = [&](auto* w) {
    for (int64_t f = 0; f < filters; ++f) {
      auto* filter = w + f * filter_size;
      std::fill(filter, filter + filter_size, 0);
      filter[(f * r + r / 2) * s + s / 2] = 1;
    }
  };
  if (weight.dtype() == DType::kF32) set(weight.data_as<float>());
  else set(weight.data_as<double>());
}

void symmetric_eigen(std::vector<double> a, int64_t n, std::vector<double>& values, std::vector<double>& vectors) {
  SPRINT_CHECK(n > 0 && static_cast<int64_t>(a.size()) == n * n, "symmetric_eigen: want {} values, got {}", n * n,
               a.size());
  const auto idx = [n](int64_t i, int64_t j) { return static_cast<size_t>(i * n + j); };
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);  // columns: eigenvectors
  for (int64_t i = 0; i < n; ++i) v[idx(i, i)] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, total = 0.0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) (i == j ? total : off) += a[idx(i, j)] * a[idx(i, j)];
    if (off <= 1e-30 * (total + off) || off == 0.0) break;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[idx(p, q)];
        if (apq == 0.0) continue;
        const double theta = (a[idx(q, q)] - a[idx(p, p)]) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // A <- A J (columns p, q)
          const double akp = a[idx(k, p)], akq = a[idx(k, q)];
          a[idx(k, p)] = c * akp - s * akq;
          a[idx(k, q)] = s * akp + c * akq;
        }
        for (int64_t k = 0; k < n; ++k) {  // A <- J^T A (rows p, q)
          const double apk = a[idx(p, k)], aqk = a[idx(q, k)];
          a[idx(p, k)] = c * apk - s * aqk;
          a[idx(q, k)] = s * apk + c * aqk;
        }
        for (int64_t k = 0; k < n; ++k) {  // V <- V J
          const double vkp = v[idx(k, p)], vkq = v[idx(k, q)];
          v[idx(k, p)] = c * vkp - s * vkq;
          v[idx(k, q)] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a[idx(x, x)] < a[idx(y, y)]; });
  values.assign(static_cast<size_t>(n), 0.0);
  vectors.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t col = order[static_cast<size_t>(i)];
    values[static_cast<size_t>(i)] = a[idx(col, col)];
    for (int64_t k = 0; k < n; ++k) vectors[idx(i, k)] = v[idx(k, col)];
  }
}

void whitening(const Tensor& weight, const Tensor& images, double eps) {
  SPRINT_CHECK(weight.device().is_cpu() && weight.is_contiguous() && weight.ndim() == 4 &&
                   (weight.dtype() == DType::kF32 || weight.dtype() == DType::kF64),
               "whitening wants a contiguous f32/f64 host (K, C, R, S) weight, got {}", weight.description());
  SPRINT_CHECK(images.device().is_cpu() && images.is_contiguous() && images.ndim() == 4 &&
                   (images.dtype() == DType::kF32 || images.dtype() == DType::kF64),
               "whitening wants contiguous f32/f64 host images (N, C, H, W), got {}", images.description());
  const int64_t c = weight.dim(1), r = weight.dim(2), s = weight.dim(3), e = c * r * s;
  SPRINT_CHECK(weight.dim(0) == 2 * e, "whitening needs 2·C·R·S = {} filters, the weight has {}", 2 * e,
               weight.dim(0));
  SPRINT_CHECK(images.dim(1) == c && images.dim(2) >= r && images.dim(3) >= s && images.dim(0) > 0,
               "whitening: images {} do not fit the weight {}", images.description(), weight.description());
  const int64_t n = images.dim(0), h = images.dim(2), w = images.dim(3), ph = h - r + 1, pw = w - s + 1;
  const auto pixel = [&](int64_t i) {
    return images.dtype() == DType::kF32 ? static_cast<double>(images.data_as<float>()[i]) : images.data_as<double>()[i];
  };
  // Covariance (uncentred, as airbench: patches^T patches / count) of the (C, R, S) patches.
  std::vector<double> cov(static_cast<size_t>(e * e), 0.0), patch(static_cast<size_t>(e));
  for (int64_t img = 0; img < n; ++img)
    for (int64_t y = 0; y < ph; ++y)
      for (int64_t x = 0; x < pw; ++x) {
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t dy = 0; dy < r; ++dy)
            for (int64_t dx = 0; dx < s; ++dx)
              patch[static_cast<size_t>((ch * r + dy) * s + dx)] = pixel(((img * c + ch) * h + y + dy) * w + x + dx);
        for (int64_t i = 0; i < e; ++i)
          for (int64_t j = i; j < e; ++j) cov[static_cast<size_t>(i * e + j)] += patch[static_cast<size_t>(i)] * patch[static_cast<size_t>(j)];
      }
  const double count = static_cast<double>(n * ph * pw);
  for (int64_t i = 0; i < e; ++i)
    for (int64_t j = i; j < e; ++j) {
      cov[static_cast<size_t>(i * e + j)] /= count;
      cov[static_cast<size_t>(j * e + i)] = cov[static_cast<size_t>(i * e + j)];
    }
  std::vector<double> values, vectors;
  symmetric_eigen(cov, e, values, vectors);
  for (int64_t f = 0; f < e; ++f) {  // decreasing eigenvalue order
    const int64_t src = e - 1 - f;
    const double scale = 1.0 / std::sqrt(values[static_cast<size_t>(src)] + eps);
    for (int64_t k = 0; k < e; ++k) {
      const double v = vectors[static_cast<size_t>(src * e + k)] * scale;
      if (weight.dtype() == DType::kF32) {
        weight.data_as<float>()[f * e + k] = static_cast<float>(v);
        weight.data_as<float>()[(f + e) * e + k] = static_cast<float>(-v);
      } else {
        weight.data_as<double>()[f * e + k] = v;
        weight.data_as<double>()[(f + e) * e + k] = -v;
      }
    }
  }
}

}  // namespace sprint::nn::init
