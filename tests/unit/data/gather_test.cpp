// gather_test.cpp: ops::gather_normalize / gather_labels values (contiguous and channels-last; f32, f64, f16,
// bf16), fast path bit-identical to the reference loops, feature rows, and the front door's error messages.
#include <gtest/gtest.h>

#include "sprint/core/error.h"
#include "sprint/ops/data.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {

constexpr int64_t kM = 5, kC = 3, kH = 2, kW = 3;
const std::vector<float> kMean = {0.4914f, 0.4822f, 0.4465f};
const std::vector<float> kStd = {0.2470f, 0.2435f, 0.2616f};

Tensor make_images() {
  Tensor t = Tensor::empty({kM, kC, kH, kW}, DType::kU8);
  uint8_t* p = t.data_as<uint8_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  p[0] = 0;
  p[1] = 255;
  return t;
}

// Expected value of out[n][c][y][x] in float (the double formula rounded once to float).
float expected(const Tensor& images, int32_t row, int64_t c, int64_t y, int64_t x) {
  const int v = images.data_as<uint8_t>()[((row * kC + c) * kH + y) * kW + x];
  return static_cast<float>((v / 255.0 - static_cast<double>(kMean[c])) / static_cast<double>(kStd[c]));
}

std::vector<float> expected_all(const Tensor& images, const std::vector<int32_t>& idx) {
  std::vector<float> out;
  for (int32_t row : idx)
    for (int64_t c = 0; c < kC; ++c)
      for (int64_t y = 0; y < kH; ++y)
        for (int64_t x = 0; x < kW; ++x) out.push_back(expected(images, row, c, y, x));
  return out;
}

Tensor run_gather(const Tensor& images, const std::vector<int32_t>& idx, DType dtype, MemoryFormat format,
                  bool reference = false) {
  testing::ReferenceModeGuard guard(reference);
  const Tensor indices = Tensor::from_values(idx, {static_cast<int64_t>(idx.size())});
  Tensor out = Tensor::empty({static_cast<int64_t>(idx.size()), kC, kH, kW}, dtype, cpu_allocator(), format);
  ops::gather_normalize(cpu_context().compute_stream(),
                        {.src = images, .indices = indices, .out = out, .mean = kMean, .std = kStd});
  return out;
}

template <class E, class F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << part << "\"";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(GatherNormalize, ContiguousAndChannelsLastF32) {
  const Tensor images = make_images();
  const std::vector<int32_t> idx = {4, 0, 2, 0};
  const std::vector<float> want = expected_all(images, idx);
  const Tensor nchw = run_gather(images, idx, DType::kF32, MemoryFormat::kContiguous);
  EXPECT_TRUE(nchw.is_contiguous());
  EXPECT_EQ(nchw.to_vector<float>(), want);
  const Tensor nhwc = run_gather(images, idx, DType::kF32, MemoryFormat::kChannelsLast);
  EXPECT_TRUE(nhwc.is_channels_last());
  EXPECT_EQ(nhwc.to_vector<float>(), want);  // logical order is the same
  // Memory order really is NHWC: element (n=0, c=1, y=0, x=0) sits right after (n=0, c=0, y=0, x=0).
  EXPECT_EQ(nhwc.data_as<float>()[1], expected(images, 4, 1, 0, 0));
  EXPECT_FLOAT_EQ(
      nchw.data_as<float>()[0],
      static_cast<float>((static_cast<int>(images.data_as<uint8_t>()[4 * kC * kH * kW]) / 255.0 - kMean[0]) /
                         kStd[0]));
}

TEST(GatherNormalize, ExtremePixelValues) {
  const Tensor images = make_images();  // pixel 0 of sample 0 is 0, pixel 1 is 255
  const std::vector<float> v =
      run_gather(images, {0}, DType::kF32, MemoryFormat::kContiguous).to_vector<float>();
  EXPECT_FLOAT_EQ(v[0], -kMean[0] / kStd[0]);
  EXPECT_FLOAT_EQ(v[1], (1.0f - kMean[0]) / kStd[0]);
}

TEST(GatherNormalize, Bf16F16AndF64) {
  const Tensor images = make_images();
  const std::vector<int32_t> idx = {1, 3};
  const std::vector<float> want = expected_all(images, idx);
  for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    const std::vector<float> bf = run_gather(images, idx, DType::kBF16, format).to_vector<float>();
    const std::vector<float> h = run_gather(images, idx, DType::kF16, format).to_vector<float>();
    const std::vector<double> d = run_gather(images, idx, DType::kF64, format).to_vector<double>();
    ASSERT_EQ(bf.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(bf[i], bf16_to_float(bf16_from_float(want[i]))) << i;
      EXPECT_EQ(h[i], f16_to_float(f16_from_float(want[i]))) << i;
      EXPECT_NEAR(d[i], want[i], 1e-6 * std::abs(want[i]) + 1e-7) << i;
    }
  }
}

TEST(GatherNormalize, FastPathIsBitIdenticalToReference) {
  const Tensor images = make_images();
  const std::vector<int32_t> idx = {4, 3, 2, 1, 0, 2};
  for (DType dtype : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16})
    for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
      const Tensor fast = run_gather(images, idx, dtype, format, false);
      const Tensor ref = run_gather(images, idx, dtype, format, true);
      EXPECT_EQ(std::memcmp(fast.data(), ref.data(), fast.n_bytes()), 0) << dtype_name(dtype);
    }
}

TEST(GatherNormalize, NoMeanStdMeansDivideBy255) {
  const Tensor images = make_images();
  const Tensor indices = Tensor::from_values(std::vector<int32_t>{0}, {1});
  Tensor out = Tensor::empty({1, kC, kH, kW}, DType::kF32);
  ops::gather_normalize(cpu_context().compute_stream(), {.src = images, .indices = indices, .out = out});
  EXPECT_FLOAT_EQ(out.data_as<float>()[1], 1.0f);
  EXPECT_FLOAT_EQ(out.data_as<float>()[2], static_cast<float>(images.data_as<uint8_t>()[2] / 255.0));
}

TEST(GatherNormalize, FeatureRows) {
  const Tensor src = Tensor::from_values(std::vector<float>{0, 1, 2, 10, 11, 12, 20, 21.5f, 22}, {3, 3});
  const Tensor indices = Tensor::from_values(std::vector<int32_t>{2, 0, 2}, {3});
  Tensor out = Tensor::empty({3, 3}, DType::kF32);
  const Stream s = cpu_context().compute_stream();
  ops::gather_normalize(s, {.src = src, .indices = indices, .out = out});
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{20, 21.5f, 22, 0, 1, 2, 20, 21.5f, 22}));
  Tensor out_bf16 = Tensor::empty({3, 3}, DType::kBF16);
  ops::gather_normalize(s, {.src = src, .indices = indices, .out = out_bf16});
  EXPECT_EQ(out_bf16.to_vector<float>(), (std::vector<float>{20, 21.5f, 22, 0, 1, 2, 20, 21.5f, 22}));
}

TEST(GatherLabels, ValuesAndRangeCheck) {
  const Tensor labels = Tensor::from_values(std::vector<int32_t>{5, 6, 7, 12}, {4});
  const Tensor indices = Tensor::from_values(std::vector<int32_t>{2, 0, 1}, {3});
  Tensor out = Tensor::empty({3}, DType::kI32);
  const Stream s = cpu_context().compute_stream();
  ops::gather_labels(s, {.labels = labels, .indices = indices, .out = out, .num_classes = 10});
  EXPECT_EQ(out.to_vector<int32_t>(), (std::vector<int32_t>{7, 5, 6}));
  const Tensor bad = Tensor::from_values(std::vector<int32_t>{3}, {1});
  Tensor out1 = Tensor::empty({1}, DType::kI32);
  expect_error<InvalidArgument>(
      [&] { ops::gather_labels(s, {.labels = labels, .indices = bad, .out = out1, .num_classes = 10}); },
      "gather_labels: label 12 of sample 3 is out of range [0, 10)");
  EXPECT_NO_THROW(ops::gather_labels(s, {.labels = labels, .indices = bad, .out = out1}));
  EXPECT_EQ(out1.to_vector<int32_t>()[0], 12);
}

TEST(GatherNormalize, FrontDoorErrors) {
  const Stream s = cpu_context().compute_stream();
  const Tensor images = make_images();
  const Tensor idx = Tensor::from_values(std::vector<int32_t>{0, 7}, {2});
  Tensor out = Tensor::empty({2, kC, kH, kW}, DType::kF32);
  expect_error<InvalidArgument>(
      [&] {
        ops::gather_normalize(s, {.src = images, .indices = idx, .out = out, .mean = kMean, .std = kStd});
      },
      "gather_normalize: index 7 at position 1 is out of range [0, 5)");
  const Tensor idx_ok = Tensor::from_values(std::vector<int32_t>{0, 1}, {2});
  const std::vector<float> two = {0.5f, 0.5f};
  expect_error<InvalidArgument>(
      [&] {
        ops::gather_normalize(s, {.src = images, .indices = idx_ok, .out = out, .mean = two, .std = two});
      },
      "mean and std need 3 entries each");
  const std::vector<float> zero_std = {1.0f, 0.0f, 1.0f};
  expect_error<InvalidArgument>(
      [&] {
        ops::gather_normalize(s,
                              {.src = images, .indices = idx_ok, .out = out, .mean = kMean, .std = zero_std});
      },
      "channel 1 has mean");
  Tensor wrong = Tensor::empty({3, kC, kH, kW}, DType::kF32);
  expect_error<InvalidArgument>(
      [&] { ops::gather_normalize(s, {.src = images, .indices = idx_ok, .out = wrong}); },
      "gather_normalize out must have shape [2, 3, 2, 3]");
  Tensor ints = Tensor::empty({2, kC, kH, kW}, DType::kI32);
  expect_error<InvalidArgument>(
      [&] { ops::gather_normalize(s, {.src = images, .indices = idx_ok, .out = ints}); },
      "expected a floating tensor");
  const Tensor idx64 = Tensor::empty({2}, DType::kI64);
  expect_error<InvalidArgument>(
      [&] { ops::gather_normalize(s, {.src = images, .indices = idx64, .out = out}); },
      "indices must be i32 (N)");
  const Tensor feats = Tensor::empty({4, 6}, DType::kF32);
  Tensor fout = Tensor::empty({2, 6}, DType::kF32);
  expect_error<InvalidArgument>(
      [&] {
        ops::gather_normalize(s, {.src = feats, .indices = idx_ok, .out = fout, .mean = kMean, .std = kStd});
      },
      "feature data is not normalised");
  expect_error<InvalidArgument>(
      [&] { ops::gather_normalize(s, {.src = feats, .indices = idx_ok, .out = feats.rows(0, 2)}); },
      "overlaps input");
  const Tensor u8_2d = Tensor::empty({4, 6}, DType::kU8);
  expect_error<InvalidArgument>(
      [&] { ops::gather_normalize(s, {.src = u8_2d, .indices = idx_ok, .out = fout}); },
      "u8 images must be (M, C, H, W)");
}

}  // namespace
}  // namespace sprint
