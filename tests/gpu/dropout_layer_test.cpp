// dropout_layer_test.cpp: the Dropout layer on CUDA on its own: p = 0 and eval mode are the identity (the input
// tensor itself comes back), and for p > 0 the kept fraction is 1 − p within five standard deviations, kept
// elements are scaled by exactly 1 / (1 − p), and backward drops exactly the elements forward dropped.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/gpu_test_util.h"
#include "sprint/nn/dropout.h"
#include "sprint/ops/elementwise.h"

namespace sprint::testing {
namespace {

using DropoutLayerTest = CudaTest;

TEST_F(DropoutLayerTest, ZeroProbabilityAndEvalAreTheIdentity) {
  const Tensor x = ops::full(stream(), {64, 33}, DType::kF32, 2.5);
  Generator rng(3);
  nn::RunContext ctx{stream(), &rng};
  nn::Dropout none(0.0);
  EXPECT_EQ(none.forward(ctx, x).data(), x.data());
  EXPECT_EQ(none.backward(ctx, x).data(), x.data());
  EXPECT_EQ(rng.state().offset, 0u);  // no words drawn
  nn::Dropout half(0.5);
  half.eval();
  EXPECT_EQ(half.forward(ctx, x).data(), x.data());
  EXPECT_EQ(half.backward(ctx, x).data(), x.data());
  EXPECT_EQ(rng.state().offset, 0u);
}

TEST_F(DropoutLayerTest, MaskStatisticsAndTheSameMaskInBackward) {
  const int64_t n = int64_t{1} << 20;
  for (double p : {0.1, 0.5, 0.8}) {
    for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
      SCOPED_TRACE(::testing::Message() << "p " << p << (format == MemoryFormat::kChannelsLast ? " nhwc" : ""));
      const Shape shape{64, 16, 32, 32};  // n elements
      const Tensor x = ops::full(stream(), shape, DType::kF32, 1.0, format);
      const Tensor dy = ops::full(stream(), shape, DType::kF32, 3.0, format);
      Generator rng(17);
      nn::RunContext ctx{stream(), &rng};
      nn::Dropout drop(p);
      const std::vector<float> y = values<float>(drop.forward(ctx, x));
      const std::vector<float> dx = values<float>(drop.backward(ctx, dy));
      EXPECT_EQ(rng.state().offset, static_cast<uint64_t>(n));
      ASSERT_EQ(y.size(), static_cast<size_t>(n));
      const float scale = static_cast<float>(1.0 / (1.0 - p));
      int64_t kept = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        if (y[i] != 0.0f) {
          ++kept;
          ASSERT_EQ(y[i], scale) << i;
          ASSERT_EQ(dx[i], 3.0f * scale) << i;
        } else {
          ASSERT_EQ(dx[i], 0.0f) << i;
        }
      }
      const double rate = static_cast<double>(kept) / static_cast<double>(n);
      EXPECT_NEAR(rate, 1.0 - p, 5.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(n)));
      // A second step draws a different mask.
      const std::vector<float> y2 = values<float>(drop.forward(ctx, x));
      EXPECT_NE(y2, y);
    }
  }
}

}  // namespace
}  // namespace sprint::testing
