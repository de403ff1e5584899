// mixed_precision_test.cpp: the Cast layer (values rounded to its dtype forward, the gradient back in the
// input's dtype) and nn::use_mixed_precision on a built model: convolutions and linear layers get f32 masters
// with bf16/f16 compute copies, BatchNorm stays f32, Cast layers sit at both edges, and the parameter paths
// and the f32 values a checkpoint reads do not change. (Running the converted model needs half-precision
// kernels: CUDA; tests/gpu.)
#include <gtest/gtest.h>

#include <set>

#include "sprint/core/error.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/cast.h"
#include "sprint/nn/mixed_precision.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

TEST(Cast, RoundsForwardAndReturnsTheGradientInTheInputDtype) {
  RunContext ctx{cpu_context().compute_stream()};
  Cast cast(DType::kBF16);
  const Tensor x = Tensor::from_values(std::vector<float>{1.0f / 3, -2.5f, 1e-3f}, {1, 3});
  const Tensor y = cast.forward(ctx, x);
  EXPECT_EQ(y.dtype(), DType::kBF16);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(bf16_to_float(y.data_as<bf16>()[0]), bf16_to_float(bf16_from_float(1.0f / 3)));
  const Tensor dx = cast.backward(ctx, ops::full(ctx.stream, {1, 3}, DType::kBF16, 0.5));
  EXPECT_EQ(dx.dtype(), DType::kF32);
  EXPECT_EQ(dx.to_vector<float>(), (std::vector<float>{0.5f, 0.5f, 0.5f}));
  // Already of the dtype: passed through.
  Cast same(DType::kF32);
  EXPECT_EQ(same.forward(ctx, x).data(), x.data());
  EXPECT_THROW(Cast(DType::kF32).backward(ctx, x), InvalidArgument);  // backward before forward
}

TEST(MixedPrecision, ConvertsConvAndLinearAndKeepsBatchNormAndPaths) {
  const Stream s = cpu_context().compute_stream();
  Generator a(5), b(5);
  Model plain = build_model("resnet10", {3, 16, 16}, 10, a);
  Model mixed = build_model("resnet10", {3, 16, 16}, 10, b);
  use_mixed_precision(mixed, DType::kBF16, s);
  const auto plain_params = plain.net->named_parameters(), mixed_params = mixed.net->named_parameters();
  ASSERT_EQ(plain_params.size(), mixed_params.size());
  std::set<const Parameter*> batch_norm;
  for (const auto& [path, p] : mixed_params)
    if (path.find("bn") != std::string::npos || path.find("downsample.1") != std::string::npos)
      batch_norm.insert(p.get());
  EXPECT_FALSE(batch_norm.empty());
  for (size_t i = 0; i < plain_params.size(); ++i) {
    const auto& [path, p] = mixed_params[i];
    SCOPED_TRACE(path);
    EXPECT_EQ(path, plain_params[i].first);
    EXPECT_EQ(p->master_value().dtype(), DType::kF32);
    EXPECT_EQ(p->master_value().to_vector<float>(), plain_params[i].second->value().to_vector<float>());
    if (batch_norm.count(p.get())) {
      EXPECT_FALSE(p->has_master());
      EXPECT_EQ(p->value().dtype(), DType::kF32);
    } else {
      EXPECT_TRUE(p->has_master());
      EXPECT_EQ(p->value().dtype(), DType::kBF16);
    }
  }
  EXPECT_EQ(mixed.net->children().front().first, "input_cast");
  EXPECT_EQ(mixed.net->children().back().first, "output_cast");
  EXPECT_EQ(mixed.net->output_shape({2, 3, 16, 16}), (Shape{2, 10}));
  EXPECT_THROW(use_mixed_precision(mixed, DType::kBF16, s),
               InvalidArgument);  // already mixed: no f32 to start from
  Generator c(1);
  Model other = build_model("mlp2", {6}, 3, c, {.hidden = {4, 4}});
  EXPECT_THROW(use_mixed_precision(other, DType::kF32, s), InvalidArgument);
}

}  // namespace
}  // namespace sprint::nn
