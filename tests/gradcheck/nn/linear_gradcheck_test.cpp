// linear_gradcheck_test.cpp: float64 finite differences for Linear (bias / no bias, fused ReLU, shared weights).
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

TEST(LinearGradcheck, WithBias) {
  Generator rng(1);
  Linear l(LinearOptions(7, 5).with_dtype(DType::kF64), rng);
  testing::expect_module_gradients(l, {4, 7});
}

TEST(LinearGradcheck, WithoutBias) {
  Generator rng(2);
  Linear l(LinearOptions(6, 3).with_bias(false).with_dtype(DType::kF64), rng);
  testing::expect_module_gradients(l, {5, 6});
}

TEST(LinearGradcheck, FusedRelu) {
  Generator rng(3);
  Linear l(LinearOptions(6, 9).with_activation(Activation::kReLU).with_dtype(DType::kF64), rng);
  testing::expect_module_gradients(l, {8, 6});
}

TEST(LinearGradcheck, SharedWeightsAccumulate) {
  Generator rng(4);
  auto first = std::make_shared<Linear>(LinearOptions(5, 5).with_dtype(DType::kF64), rng);
  auto second = std::make_shared<Linear>(LinearOptions(5, 5).with_dtype(DType::kF64), first->weight(), first->bias());
  Sequential net({first, std::make_shared<ReLU>(), second});
  testing::expect_module_gradients(net, {3, 5});
}

}  // namespace
}  // namespace sprint::nn
