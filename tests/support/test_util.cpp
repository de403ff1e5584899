// test_util.cpp: shared test helpers.
#include "support/test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <cmath>
#include <fstream>
#include <iterator>
#include <random>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::testing {

Tensor random_tensor(const Shape& shape, DType dtype, Generator& rng, double low, double high) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double v = low + (high - low) * rng.uniform_double();
    if (dtype == DType::kF32) t.data_as<float>()[i] = static_cast<float>(v);
    else if (dtype == DType::kF64) t.data_as<double>()[i] = v;
    else ADD_FAILURE() << "random_tensor supports f32/f64";
  }
  return t;
}

Tensor random_labels(int64_t n, int64_t k, Generator& rng) {
  Tensor t = Tensor::empty({n}, DType::kI32);
  for (int64_t i = 0; i < n; ++i) t.data_as<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(k)));
  return t;
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << actual.shape().to_string() << " vs "
                                         << expected.shape().to_string();
  auto host = [](const Tensor& t) {
    return t.device().is_cpu() ? t : ops::to_host(device_context(t.device()).compute_stream(), t);
  };
  const std::vector<double> a = host(actual).to_vector<double>();
  const std::vector<double> e = host(expected).to_vector<double>();
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(e[i])) return ::testing::AssertionFailure() << "NaN mismatch at " << i;
    const double ratio = std::abs(a[i] - e[i]) / (atol + rtol * std::abs(e[i]));
    if (ratio > worst) {
      worst = ratio;
      worst_i = i;
    }
  }
  if (worst > 1.0)
    return ::testing::AssertionFailure() << "element " << worst_i << ": " << a[worst_i] << " vs expected "
                                         << e[worst_i] << " (" << worst << "x the tolerance rtol=" << rtol
                                         << " atol=" << atol << ")";
  return ::testing::AssertionSuccess();
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() / ("sprint-test-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::filesystem::path find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::filesystem::path candidate = std::filesystem::path(dirs.substr(start, end - start)) / program;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

}  // namespace sprint::testing
