// residual_test.cpp: ResidualBlock shapes, shortcut choice and parameter names; Residual sums both branches
// (and their input gradients); mismatched branches are InvalidArgument.
#include <gtest/gtest.h>

#include "sprint/nn/conv.h"
#include "sprint/nn/residual.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

TEST(ResidualBlock, ShapesAndShortcuts) {
  Generator rng(0);
  ResidualBlock same(ResidualBlockOptions(16, 16), rng);
  EXPECT_EQ(same.shortcut(), nullptr);
  EXPECT_EQ(same.output_shape({8, 16, 32, 32}), (Shape{8, 16, 32, 32}));
  ResidualBlock down(ResidualBlockOptions(16, 32).with_stride(2), rng);
  ASSERT_NE(down.shortcut(), nullptr);
  EXPECT_EQ(down.output_shape({8, 16, 32, 32}), (Shape{8, 32, 16, 16}));
  EXPECT_EQ(down.output_shape({8, 16, 7, 7}), (Shape{8, 32, 4, 4}));
  ResidualBlock widen(ResidualBlockOptions(16, 32), rng);  // stride 1 but more channels: projection
  EXPECT_NE(widen.shortcut(), nullptr);
  EXPECT_THROW(down.output_shape({8, 8, 32, 32}), InvalidArgument);

  RunContext ctx{cpu_context().compute_stream()};
  for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    const Tensor x = ops::full(ctx.stream, {2, 16, 9, 9}, DType::kF32, 0.5, f);
    const Tensor y = down.forward(ctx, x);
    EXPECT_EQ(y.shape(), (Shape{2, 32, 5, 5}));
    EXPECT_EQ(y.memory_format(), f);
    for (float v : y.to_vector<float>()) EXPECT_GE(v, 0.0f);  // final ReLU
    const Tensor dx = down.backward(ctx, ops::full(ctx.stream, y.shape(), DType::kF32, 1.0, f));
    EXPECT_EQ(dx.shape(), x.shape());
    EXPECT_EQ(dx.memory_format(), f);
  }
}

TEST(ResidualBlock, ParameterNamesAndCount) {
  Generator rng(0);
  ResidualBlock block(ResidualBlockOptions(4, 8).with_stride(2), rng);
  std::vector<std::string> names;
  for (auto& [name, p] : block.named_parameters()) names.push_back(name);
  const std::vector<std::string> expected = {  // torchvision's BasicBlock
      "conv1.weight",        "bn1.weight",          "bn1.bias",          "conv2.weight", "bn2.weight",
      "bn2.bias",            "downsample.0.weight", "downsample.1.weight", "downsample.1.bias"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(block.n_parameters(), 8 * 4 * 9 + 8 * 8 * 9 + 8 * 4 + 3 * 2 * 8);
  EXPECT_EQ(block.named_buffers().size(), 6u);
}

TEST(Residual, IdentityShortcutAddsInputAndGradient) {
  Generator rng(1);
  auto conv = std::make_shared<Conv2d>(ConvOptions(2, 2, 1).with_bias(false), rng);
  Residual res(conv);
  RunContext ctx{cpu_context().compute_stream()};
  const Tensor x = testing::random_tensor({1, 2, 2, 2}, DType::kF32, rng);
  const std::vector<float> y = res.forward(ctx, x).to_vector<float>();
  const std::vector<float> xv = x.to_vector<float>();
  const std::vector<float> w = conv->weight()->value().to_vector<float>();  // (2, 2, 1, 1)
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 4; ++i) {
      const float body = w[c * 2 + 0] * xv[0 * 4 + i] + w[c * 2 + 1] * xv[1 * 4 + i];
      EXPECT_NEAR(y[c * 4 + i], body + xv[c * 4 + i], 1e-6f);
    }
  // dx = wᵀ · dy + dy for dy = 1.
  const std::vector<float> dx =
      res.backward(ctx, ops::full(ctx.stream, {1, 2, 2, 2}, DType::kF32, 1.0)).to_vector<float>();
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(dx[c * 4 + i], w[0 * 2 + c] + w[1 * 2 + c] + 1.0f, 1e-6f);
}

TEST(Residual, MismatchedBranchesAreInvalidArguments) {
  Generator rng(2);
  Residual widening(std::make_shared<Conv2d>(ConvOptions(2, 4, 3).with_padding(1), rng));
  EXPECT_THROW(widening.output_shape({1, 2, 5, 5}), InvalidArgument);
  RunContext ctx{cpu_context().compute_stream()};
  EXPECT_THROW(widening.forward(ctx, Tensor::empty({1, 2, 5, 5}, DType::kF32)), InvalidArgument);
  EXPECT_THROW(Residual(nullptr), InvalidArgument);
}

}  // namespace
}  // namespace sprint::nn
