// norm_sums_planes.cpp (CPU): batch norm around its per-channel sums over the planes of dense f32 tensors
// (norm_sums_planes.h).
#include "sprint/backend/cpu/norm_sums_planes.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {

struct Plane {
  int64_t offset;  ///< of its first element, in elements
  int64_t first;   ///< channel of its first run element
};

struct Planes {
  std::vector<Plane> planes;
  int64_t pixels = 0;    ///< runs per plane (H·W)
  int64_t width = 0;     ///< channels per run (C, b, or 1)
  int64_t channels = 0;  ///< C rounded up to whole runs (blocked: to whole blocks)
};

/// t's planes when it is a dense f32 image in NCHW, NHWC or a channel-blocked layout (any batch stride), else
/// nothing.
std::optional<Planes> dense_planes(const Tensor& t) {
  if (t.dtype() != DType::kF32 || t.ndim() != 4 || t.is_weight_blocked()) return std::nullopt;
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  const auto& s = t.strides();
  Planes p;
  p.pixels = h * w;
  if (const int64_t b = t.channel_block(); b != 0) {
    if (s[3] != b || s[2] != w * b || s[1] != h * w * b) return std::nullopt;
    p.width = b;
    p.channels = (c + b - 1) / b * b;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < p.channels / b; ++k) p.planes.push_back({i * s[0] + k * s[1], k * b});
  } else if (s[1] == 1 && s[3] == c && s[2] == w * c) {  // NHWC
    p.width = c;
    p.channels = c;
    for (int64_t i = 0; i < n; ++i) p.planes.push_back({i * s[0], 0});
  } else if (s[3] == 1 && s[2] == w && s[1] == h * w) {  // NCHW
    p.width = 1;
    p.channels = c;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < c; ++k) p.planes.push_back({i * s[0] + k * s[1], k});
  } else {
    return std::nullopt;
  }
  return p;
}

bool same_layout(const Tensor& a, const Tensor& b) {
  return b.dtype() == a.dtype() && b.shape() == a.shape() && b.strides() == a.strides() &&
         b.channel_block() == a.channel_block();
}

/// A (C) per-channel f32 tensor as doubles, padded with zeros to `channels`.
std::vector<double> padded(const Tensor& t, int64_t channels, double fallback = 0.0) {
  std::vector<double> v(static_cast<size_t>(channels), 0.0);
  const int64_t c = t.defined() ? t.dim(0) : 0;
  for (int64_t i = 0; i < channels; ++i)
    v[static_cast<size_t>(i)] = !t.defined() ? fallback : i < c ? static_cast<double>(t.data_as<float>()[i]) : 0.0;
  return v;
}

/// Partial sums of f(a_i, b_i) pairs per plane: for every plane, `width` pairs (s1, s2) in part[plane], from
/// f(channel, pointer offset) called over the plane's elements in memory order.
template <class F>
std::vector<double> plane_partials(const Planes& p, int threads, F&& f) {
  const int64_t n_planes = static_cast<int64_t>(p.planes.size()), width = p.width;
  std::vector<double> part(static_cast<size_t>(n_planes * 2 * width), 0.0);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < n_planes; ++i) {
    const Plane& pl = p.planes[static_cast<size_t>(i)];
    double* s1 = part.data() + i * 2 * width;
    double* s2 = s1 + width;
    if (width == 1) {  // NCHW: consecutive pixels of one channel, in eight independent lanes
      double a[8] = {}, b[8] = {};
      int64_t q = 0;
      for (; q + 8 <= p.pixels; q += 8)
        for (int l = 0; l < 8; ++l) f(pl.first, pl.offset + q + l, a[l], b[l]);
      for (; q < p.pixels; ++q) f(pl.first, pl.offset + q, a[0], b[0]);
      for (int l = 0; l < 8; ++l) {
        s1[0] += a[l];
        s2[0] += b[l];
      }
    } else {
      for (int64_t q = 0; q < p.pixels; ++q) {
        const int64_t row = pl.offset + q * width;
        for (int64_t v = 0; v < width; ++v) f(pl.first + v, row + v, s1[v], s2[v]);
      }
    }
  }
  return part;
}

/// sums[c] and sums[C + c] from the plane partials, added in plane order; sums[2C] = N·H·W.
void write_sums(const Planes& p, const std::vector<double>& part, int64_t c, double count, double* sums) {
  std::fill(sums, sums + 2 * c, 0.0);
  for (size_t i = 0; i < p.planes.size(); ++i) {
    const double* s1 = part.data() + static_cast<int64_t>(i) * 2 * p.width;
    const double* s2 = s1 + p.width;
    for (int64_t v = 0; v < p.width; ++v) {
      const int64_t ch = p.planes[i].first + v;
      if (ch >= c) break;  // padding channels of the last block
      sums[ch] += s1[v];
      sums[c + ch] += s2[v];
    }
  }
  sums[2 * c] = count;
}

double count_of(const Tensor& x) { return static_cast<double>(x.dim(0) * x.dim(2) * x.dim(3)); }

}  // namespace

bool planes_sums(const BatchNormSumsArgs& a, int threads) {
  const std::optional<Planes> p = dense_planes(a.x);
  if (!p) return false;
  const float* x = a.x.data_as<float>();
  const std::vector<double> part = plane_partials(*p, threads, [&](int64_t, int64_t i, double& s, double& q) {
    const double v = x[i];
    s += v;
    q += v * v;
  });
  write_sums(*p, part, a.x.dim(1), count_of(a.x), a.sums.data_as<double>());
  return true;
}

bool planes_backward_sums(const BatchNormBackwardSumsArgs& a, int threads) {
  const std::optional<Planes> p = dense_planes(a.x);
  if (!p || !same_layout(a.x, a.dy) || a.save_mean.dtype() != DType::kF32) return false;
  const float* x = a.x.data_as<float>();
  const float* dy = a.dy.data_as<float>();
  const std::vector<double> mean = padded(a.save_mean, p->channels);
  const std::vector<double> part = plane_partials(*p, threads, [&](int64_t ch, int64_t i, double& s, double& q) {
    const double d = dy[i];
    s += d;
    q += d * (static_cast<double>(x[i]) - mean[static_cast<size_t>(ch)]);
  });
  const int64_t c = a.x.dim(1);
  double* sums = a.sums.data_as<double>();
  write_sums(*p, part, c, count_of(a.x), sums);
  const bool acc = a.param_mode == GradMode::kAccumulate;
  for (int64_t ch = 0; ch < c; ++ch) {
    sums[c + ch] *= static_cast<double>(a.save_invstd.data_as<float>()[ch]);
    if (a.dbeta.defined()) store(a.dbeta.data_as<float>()[ch], static_cast<float>(sums[ch]), acc);
    if (a.dgamma.defined()) store(a.dgamma.data_as<float>()[ch], static_cast<float>(sums[c + ch]), acc);
  }
  return true;
}

bool planes_input_grad(const BatchNormInputGradArgs& a, int threads) {
  const std::optional<Planes> p = dense_planes(a.x);
  if (!p || !same_layout(a.x, a.dy) || !same_layout(a.x, a.dx) || a.save_mean.dtype() != DType::kF32) return false;
  const int64_t c = a.x.dim(1);
  const double* sums = a.sums.data_as<double>();
  const double m = sums[2 * c];
  SPRINT_CHECK(m >= 1.0, "batch_norm_input_grad: the sums count {} values per channel", m);
  // dx = k · (dy − mean_dy − (x − mean) · invstd · mean_dy_xhat), per channel k = γ · invstd; padding channels 0.
  const std::vector<double> gamma = padded(a.gamma, p->channels, 1.0), mean = padded(a.save_mean, p->channels),
                            invstd = padded(a.save_invstd, p->channels);
  std::vector<float> k(static_cast<size_t>(p->channels), 0.0f), shift(k), mu(k), slope(k);
  for (int64_t ch = 0; ch < c; ++ch) {
    const size_t i = static_cast<size_t>(ch);
    k[i] = static_cast<float>(gamma[i] * invstd[i]);
    shift[i] = static_cast<float>(sums[ch] / m);
    mu[i] = static_cast<float>(mean[i]);
    slope[i] = static_cast<float>(invstd[i] * sums[c + ch] / m);
  }
  const float* x = a.x.data_as<float>();
  const float* dy = a.dy.data_as<float>();
  float* dx = a.dx.data_as<float>();
  const bool acc = a.dx_mode == GradMode::kAccumulate;
  const int64_t n_planes = static_cast<int64_t>(p->planes.size()), width = p->width, pixels = p->pixels;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t i = 0; i < n_planes; ++i) {
    const Plane& pl = p->planes[static_cast<size_t>(i)];
    const float* kk = k.data() + pl.first;
    const float* sh = shift.data() + pl.first;
    const float* mm = mu.data() + pl.first;
    const float* sl = slope.data() + pl.first;
    if (width == 1) {  // NCHW: one channel's consecutive pixels
      const float k0 = kk[0], s0 = sh[0], m0 = mm[0], l0 = sl[0];
      for (int64_t q = pl.offset; q < pl.offset + pixels; ++q) {
        const float g = k0 * (dy[q] - s0 - (x[q] - m0) * l0);
        dx[q] = acc ? dx[q] + g : g;
      }
      continue;
    }
    for (int64_t q = 0; q < pixels; ++q) {
      const int64_t row = pl.offset + q * width;
      for (int64_t v = 0; v < width; ++v) {
        const float g = kk[v] * (dy[row + v] - sh[v] - (x[row + v] - mm[v]) * sl[v]);
        dx[row + v] = acc ? dx[row + v] + g : g;
      }
    }
  }
  return true;
}

}  // namespace sprint::cpu
