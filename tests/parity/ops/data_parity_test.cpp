// data_parity_test.cpp: gather_normalize (images NCHW / NHWC, feature rows) and gather_labels on every
// backend against the CPU reference loops in f64.
#include <gtest/gtest.h>

#include "sprint/ops/data.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

const std::vector<float> kMean = {0.4914f, 0.4822f, 0.4465f};
const std::vector<float> kStd = {0.2470f, 0.2435f, 0.2616f};

Tensor random_bytes(const Shape& shape, Generator& rng) {
  Tensor t = Tensor::empty(shape, DType::kU8);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<uint8_t>()[i] = static_cast<uint8_t>(rng.below(256));
  return t;
}

Tensor random_indices(int64_t n, int64_t m, Generator& rng) {
  Tensor t = Tensor::empty({n}, DType::kI32);
  for (int64_t i = 0; i < n; ++i)
    t.data_as<int32_t>()[i] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(m)));
  return t;
}

// Inputs: images u8 (M, 3, 5, 4), indices i32 (N), and a one-element floating tensor whose dtype (set by the
// harness per backend) is the output dtype.
ParityCase image_case(const char* name, MemoryFormat format) {
  return ParityCase{
      .name = name,
      .make_inputs =
          [](Generator& rng) {
            return std::vector<Tensor>{random_bytes({6, 3, 5, 4}, rng), random_indices(9, 6, rng),
                                       testing::random_tensor({1}, DType::kF64, rng)};
          },
      .run =
          [format](const Stream& s, const std::vector<Tensor>& v) {
            Tensor out = Tensor::empty({9, 3, 5, 4}, v[2].dtype(), s.context().allocator(), format);
            ops::gather_normalize(s, {.src = v[0], .indices = v[1], .out = out, .mean = kMean, .std = kStd});
            return std::vector<Tensor>{out};
          }};
}

TEST(DataParity, GatherNormalizeImagesContiguous) {
  testing::run_parity(image_case("gather_normalize/nchw", MemoryFormat::kContiguous));
}

TEST(DataParity, GatherNormalizeImagesChannelsLast) {
  testing::run_parity(image_case("gather_normalize/nhwc", MemoryFormat::kChannelsLast));
}

TEST(DataParity, GatherFeatureRowsAndLabels) {
  testing::run_parity(ParityCase{
      .name = "gather_normalize/features+gather_labels",
      .make_inputs =
          [](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor({12, 7}, DType::kF64, rng),
                                       random_indices(20, 12, rng), testing::random_labels(12, 10, rng)};
          },
      .run =
          [](const Stream& s, const std::vector<Tensor>& v) {
            Tensor rows = Tensor::empty({20, 7}, v[0].dtype(), s.context().allocator());
            Tensor labels = Tensor::empty({20}, DType::kI32, s.context().allocator());
            ops::gather_normalize(s, {.src = v[0], .indices = v[1], .out = rows});
            ops::gather_labels(s, {.labels = v[2], .indices = v[1], .out = labels, .num_classes = 10});
            return std::vector<Tensor>{rows, labels};
          }});
}

}  // namespace
}  // namespace sprint
