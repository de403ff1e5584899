// mixed_precision_test.cpp: the Cast layer (values rounded to its dtype forward, the gradient back in the
// input's dtype) and nn::use_mixed_precision on a built model: convolutions and linear layers get f32 masters
// with bf16/f16 compute copies, BatchNorm stays f32, Cast layers sit at both edges, and the parameter paths
// and the f32 values a checkpoint reads do not change. The converted model runs on the CPU (half operands
// widened) with f32 weight gradients: accumulated over micro-batches they equal the sum of the micro-batches'
// gradients to f32 rounding, where half gradients would lose the small contributions.
#include <gtest/gtest.h>

#include <cmath>
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

// The summed gradients of `batches` micro-batches: accumulated in the parameters, or taken one by one and added
// in f64.
std::vector<std::vector<double>> conv_net_gradients(DType compute, int batches, bool accumulate) {
  const Stream s = cpu_context().compute_stream();
  Generator rng(11);
  Model model = build_model("cnn", {1, 12, 12}, 10, rng);
  model.net->set_needs_input_grad(false);
  use_mixed_precision(model, compute, s);
  RunContext ctx{s, &rng};
  std::vector<std::vector<double>> sums;
  const auto params = model.net->parameters();
  for (const ParameterPtr& p : params) sums.emplace_back(static_cast<size_t>(p->grad().numel()), 0.0);
  for (int b = 0; b < batches; ++b) {
    // Micro-batches of very different scale: the small ones are below half precision's resolution of the sum.
    const Tensor x = testing::random_tensor({4, 1, 12, 12}, DType::kF32, rng, 0.0, b == 0 ? 1.0 : 1e-3);
    const Tensor labels = testing::random_labels(4, 10, rng);
    if (!accumulate || b == 0)
      for (const ParameterPtr& p : params) p->zero_grad();
    model.loss->forward(ctx, model.net->forward(ctx, x), labels);
    model.net->backward(ctx, model.loss->backward(ctx));
    if (accumulate && b + 1 < batches) continue;
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i]->grad().dtype(), DType::kF32) << params[i]->name();
      const std::vector<float> g = ops::cast_to(s, params[i]->grad(), DType::kF32).to_vector<float>();
      for (size_t j = 0; j < g.size(); ++j) sums[i][j] += g[j];
    }
  }
  return sums;
}

TEST(MixedPrecision, WeightGradientsAccumulateInF32) {
  for (DType compute : {DType::kBF16, DType::kF16}) {
    SCOPED_TRACE(std::string(dtype_name(compute)));
    const auto accumulated = conv_net_gradients(compute, 8, true), separate = conv_net_gradients(compute, 8, false);
    ASSERT_EQ(accumulated.size(), separate.size());
    for (size_t i = 0; i < accumulated.size(); ++i)
      for (size_t j = 0; j < accumulated[i].size(); ++j)
        ASSERT_NEAR(accumulated[i][j], separate[i][j], 1e-6 * (1.0 + std::fabs(separate[i][j])))
            << "parameter " << i << " entry " << j;
  }
}

}  // namespace
}  // namespace sprint::nn
