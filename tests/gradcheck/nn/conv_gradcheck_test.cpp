// conv_gradcheck_test.cpp: float64 finite differences for Conv2d: both memory formats, stride / padding /
// dilation / groups variants, bias on and off, fused ReLU, first-layer mode and a frozen weight.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

ConvOptions f64(ConvOptions o) {
  return o.with_dtype(DType::kF64);
}

testing::GradcheckOptions channels_last() {
  testing::GradcheckOptions o;
  o.input_format = MemoryFormat::kChannelsLast;
  return o;
}

TEST(ConvGradcheck, Same3x3WithBias) {
  Generator rng(1);
  Conv2d conv(f64(ConvOptions(3, 4, 3).with_padding(1)), rng);
  testing::expect_module_gradients(conv, {2, 3, 5, 5});
  testing::expect_module_gradients(conv, {2, 3, 5, 5}, channels_last());
}

TEST(ConvGradcheck, Stride2NoPaddingNoBias) {
  Generator rng(2);
  Conv2d conv(f64(ConvOptions(2, 3, 3).with_stride(2).with_bias(false)), rng);
  testing::expect_module_gradients(conv, {2, 2, 7, 6});
  testing::expect_module_gradients(conv, {2, 2, 7, 6}, channels_last());
}

TEST(ConvGradcheck, Stride2Padding1EvenInput) {
  // The last input row/column is not covered by any window: its gradient must be exactly zero.
  Generator rng(3);
  Conv2d conv(f64(ConvOptions(3, 2, 3).with_stride(2).with_padding(1)), rng);
  testing::expect_module_gradients(conv, {1, 3, 6, 6});
  testing::expect_module_gradients(conv, {1, 3, 6, 6}, channels_last());
}

TEST(ConvGradcheck, Pointwise1x1Stride2) {
  Generator rng(4);
  Conv2d conv(f64(ConvOptions(4, 6, 1).with_stride(2).with_bias(false)), rng);
  testing::expect_module_gradients(conv, {2, 4, 5, 5});
  testing::expect_module_gradients(conv, {2, 4, 5, 5}, channels_last());
}

TEST(ConvGradcheck, Dilation2) {
  Generator rng(5);
  Conv2d conv(f64(ConvOptions(2, 3, 3).with_padding(2).with_dilation(2)), rng);
  testing::expect_module_gradients(conv, {2, 2, 6, 5});
  testing::expect_module_gradients(conv, {2, 2, 6, 5}, channels_last());
}

TEST(ConvGradcheck, Groups2) {
  Generator rng(6);
  Conv2d conv(f64(ConvOptions(4, 6, 3).with_padding(1).with_groups(2)), rng);
  testing::expect_module_gradients(conv, {2, 4, 4, 4});
  testing::expect_module_gradients(conv, {2, 4, 4, 4}, channels_last());
}

TEST(ConvGradcheck, FusedReluAndStack) {
  Generator rng(7);
  Sequential net;
  net.emplace<Conv2d>(f64(ConvOptions(2, 4, 3).with_padding(1).with_activation(Activation::kReLU)), rng);
  net.emplace<Conv2d>(f64(ConvOptions(4, 3, 3).with_stride(2).with_padding(1)), rng);
  net.emplace<ReLU>();
  testing::expect_module_gradients(net, {2, 2, 6, 6});
  testing::expect_module_gradients(net, {2, 2, 6, 6}, channels_last());
}

TEST(ConvGradcheck, FirstLayerSkipsInputGradient) {
  Generator rng(8);
  Conv2d conv(f64(ConvOptions(1, 3, 3).with_padding(1)), rng);
  testing::GradcheckOptions o;
  o.check_input_grad = false;
  testing::expect_module_gradients(conv, {3, 1, 5, 5}, o);
}

TEST(ConvGradcheck, FrozenWeightTrainableBias) {
  Generator rng(9);
  Conv2d conv(f64(ConvOptions(2, 3, 3).with_padding(1)), rng);
  conv.weight()->set_trainable(false);
  testing::expect_module_gradients(conv, {2, 2, 4, 4});
  testing::expect_module_gradients(conv, {2, 2, 4, 4}, channels_last());
}

}  // namespace
}  // namespace sprint::nn
