// layer_cost_test.cpp: Module::cost of the layers that state one (Conv2d's 2·N·K·C·R·S·P·Q, Linear's 2·N·I·O,
// BatchNorm2d, pooling, activations; bytes as the minimum traffic), backward costs with and without the input
// gradient, and zero for layers that do not say.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/pool.h"

namespace sprint::nn {
namespace {

TEST(LayerCost, Conv2dForwardIsTwoNKCRSPQ) {
  Generator rng(1);
  Conv2d conv(ConvOptions(3, 8, 3).with_padding(1).with_bias(false), rng);
  const int64_t n = 2, k = 8, c = 3, r = 3, s = 3, p = 10, q = 12;
  const LayerCost f = conv.cost({n, c, 10, 12}, DType::kF32, Phase::kForward);
  EXPECT_EQ(f.flops, 2 * n * k * c * r * s * p * q);
  EXPECT_EQ(f.bytes, 4 * (n * c * 10 * 12 + k * c * r * s + n * k * p * q));
  // Backward: weight and data gradients, each as much as the forward; without the data gradient half.
  EXPECT_EQ(conv.cost({n, c, 10, 12}, DType::kF32, Phase::kBackward).flops, 2 * f.flops);
  conv.set_needs_input_grad(false);
  EXPECT_EQ(conv.cost({n, c, 10, 12}, DType::kF32, Phase::kBackward).flops, f.flops);
}

TEST(LayerCost, Conv2dWithStrideGroupsAndBias) {
  Generator rng(1);
  Conv2d conv(ConvOptions(4, 6, 3).with_stride(2).with_padding(1).with_groups(2), rng);
  // (1, 4, 8, 8) -> (1, 6, 4, 4); each output sees C/G = 2 channels; the bias adds one per output.
  const LayerCost f = conv.cost({1, 4, 8, 8}, DType::kF16, Phase::kForward);
  EXPECT_EQ(f.flops, 2 * 1 * 6 * 2 * 3 * 3 * 4 * 4 + 6 * 4 * 4);
  EXPECT_EQ(f.bytes, 2 * (4 * 8 * 8 + 6 * 2 * 3 * 3 + 6 + 6 * 4 * 4));
}

TEST(LayerCost, LinearIsTwoNIO) {
  Generator rng(1);
  Linear fc(LinearOptions(784, 128), rng);
  const LayerCost f = fc.cost({64, 784}, DType::kF32, Phase::kForward);
  EXPECT_EQ(f.flops, 2 * 64 * 784 * 128 + 64 * 128);
  EXPECT_EQ(f.bytes, 4 * (64 * 784 + 784 * 128 + 128 + 64 * 128));
  const LayerCost b = fc.cost({64, 784}, DType::kF32, Phase::kBackward);
  EXPECT_EQ(b.flops, 4 * 64 * 784 * 128 + 64 * 128);
  EXPECT_EQ(b.bytes, 4 * (64 * 128 + 2 * 64 * 784 + 2 * (784 * 128 + 128)));
}

TEST(LayerCost, BatchNormPoolsAndActivations) {
  const Shape x{2, 4, 6, 6};
  const int64_t n = x.product();
  BatchNorm2d bn(BatchNormOptions(4));
  EXPECT_EQ(bn.cost(x, DType::kF32, Phase::kForward).flops, 8 * n);
  EXPECT_EQ(bn.cost(x, DType::kF32, Phase::kForward).bytes, 2 * 4 * n);
  bn.eval();
  EXPECT_EQ(bn.cost(x, DType::kF32, Phase::kForward).flops, 4 * n);  // running statistics: no reduction
  EXPECT_EQ(bn.cost(x, DType::kF32, Phase::kBackward).bytes, 3 * 4 * n);

  MaxPool2d max_pool(2);  // -> (2, 4, 3, 3): 4 taps per output
  EXPECT_EQ(max_pool.cost(x, DType::kF32, Phase::kForward).flops, 4 * (n / 4));
  EXPECT_EQ(max_pool.cost(x, DType::kF32, Phase::kForward).bytes, 4 * (n + n / 4));
  EXPECT_EQ(max_pool.cost(x, DType::kF32, Phase::kBackward).flops, n / 4);
  AvgPool2d avg_pool(2);
  EXPECT_EQ(avg_pool.cost(x, DType::kF32, Phase::kBackward).flops, n);
  GlobalAvgPool2d global;
  EXPECT_EQ(global.cost(x, DType::kF32, Phase::kForward).flops, n);
  EXPECT_EQ(global.cost(x, DType::kF32, Phase::kForward).bytes, 4 * (n + 8));

  ReLU relu;
  EXPECT_EQ(relu.cost(x, DType::kF32, Phase::kForward).flops, n);
  EXPECT_EQ(relu.cost(x, DType::kF32, Phase::kForward).bytes, 2 * 4 * n);
  EXPECT_EQ(relu.cost(x, DType::kBF16, Phase::kBackward).bytes, 3 * 2 * n);
  GELU gelu;
  EXPECT_EQ(gelu.cost(x, DType::kF32, Phase::kForward).flops, 5 * n);
}

TEST(LayerCost, LayersThatDoNotSayCostZero) {
  Flatten flatten;
  const LayerCost c = flatten.cost({2, 3, 4, 4}, DType::kF32, Phase::kForward);
  EXPECT_EQ(c.flops, 0);
  EXPECT_EQ(c.bytes, 0);
}

}  // namespace
}  // namespace sprint::nn
