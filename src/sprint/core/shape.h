// shape.h: Shape and Strides, small fixed-capacity arrays of int64 (no heap allocation).
// Shape letters used across sprint: N batch, C channels, H height, W width, I/O in/out features, K classes.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace sprint {

/// A list of up to kMaxDims int64 values; used for both shapes and strides.
class Dims {
 public:
  static constexpr int kMaxDims = 6;

  Dims() = default;
  Dims(std::initializer_list<int64_t> values);
  template <class It>
  Dims(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return values_[static_cast<size_t>(i)]; }
  int64_t& operator[](int i) { return values_[static_cast<size_t>(i)]; }
  const int64_t* begin() const { return values_.data(); }
  const int64_t* end() const { return values_.data() + n_; }
  int64_t back() const { return values_[static_cast<size_t>(n_ - 1)]; }
  void push_back(int64_t value);
  /// Product of all entries (1 for an empty list).
  int64_t product() const;
  /// "[64, 784]"
  std::string to_string() const;

  friend bool operator==(const Dims& a, const Dims& b);

 private:
  std::array<int64_t, kMaxDims> values_{};
  int n_ = 0;
};

using Shape = Dims;
using Strides = Dims;

/// Row-major (C-contiguous) strides in elements for a shape.
Strides contiguous_strides(const Shape& shape);
/// Strides of a 4-D (N, C, H, W) shape stored channels-last, i.e. memory order N, H, W, C.
Strides channels_last_strides(const Shape& shape);

}  // namespace sprint
