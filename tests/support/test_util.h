// test_util.h: helpers shared by sprint's tests: random host tensors, element-wise comparison with tolerances,
// temporary directories.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"

namespace sprint::testing {

/// Host tensor of `dtype` (f32/f64) with U(low, high) values.
Tensor random_tensor(const Shape& shape, DType dtype, Generator& rng, double low = -1.0, double high = 1.0);
/// Host i32 tensor of uniform integers in [0, k).
Tensor random_labels(int64_t n, int64_t k, Generator& rng);

/// Max |a - b| / (atol + rtol·|b|) over elements, > 1 means out of tolerance; any tensors on any device.
::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol);

/// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& bytes);
/// The bytes of a file ("" when it cannot be read).
std::string read_file(const std::filesystem::path& path);

/// The executable `program` on PATH (its full path), or an empty path when there is none.
std::filesystem::path find_on_path(const std::string& program);

}  // namespace sprint::testing
