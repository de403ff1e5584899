// shape.cpp: Dims helpers.
#include "sprint/core/shape.h"

#include "sprint/core/error.h"

namespace sprint {

Dims::Dims(std::initializer_list<int64_t> values) {
  for (int64_t v : values) push_back(v);
}

void Dims::push_back(int64_t value) {
  SPRINT_CHECK(n_ < kMaxDims, "at most {} dimensions are supported", kMaxDims);
  values_[static_cast<size_t>(n_++)] = value;
}

int64_t Dims::product() const {
  int64_t p = 1;
  for (int i = 0; i < n_; ++i) p *= values_[static_cast<size_t>(i)];
  return p;
}

std::string Dims::to_string() const {
  std::string out = "[";
  for (int i = 0; i < n_; ++i) {
    if (i) out += ", ";
    out += std::to_string(values_[static_cast<size_t>(i)]);
  }
  return out + "]";
}

bool operator==(const Dims& a, const Dims& b) {
  if (a.n_ != b.n_) return false;
  for (int i = 0; i < a.n_; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides;
  for (int i = 0; i < shape.size(); ++i) strides.push_back(0);
  int64_t s = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

Strides channels_last_strides(const Shape& shape) {
  SPRINT_CHECK(shape.size() == 4, "channels-last needs a 4-D (N, C, H, W) shape, got {}", shape.to_string());
  const int64_t c = shape[1], h = shape[2], w = shape[3];
  return Strides{h * w * c, 1, w * c, c};
}

}  // namespace sprint
