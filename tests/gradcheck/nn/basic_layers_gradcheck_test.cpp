// basic_layers_gradcheck_test.cpp: float64 finite differences for ReLU, GELU, Scale, Flatten (both memory formats),
// LogSoftmax and a small MLP.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/log_softmax.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

TEST(BasicGradcheck, Relu) {
  ReLU r;
  testing::expect_module_gradients(r, {3, 4, 5});
}

TEST(BasicGradcheck, Gelu) {
  GELU g;
  testing::expect_module_gradients(g, {3, 4, 5});
}

TEST(BasicGradcheck, Scale) {
  Scale s(-1.0 / 9.0);
  testing::expect_module_gradients(s, {2, 3, 2, 2});
}

TEST(BasicGradcheck, FlattenContiguousAndChannelsLast) {
  Generator rng(0);
  Sequential a;
  a.emplace<Flatten>();
  a.emplace<Linear>(LinearOptions(2 * 3 * 3, 4).with_dtype(DType::kF64), rng);
  testing::expect_module_gradients(a, {2, 2, 3, 3});
  testing::GradcheckOptions cl;
  cl.input_format = MemoryFormat::kChannelsLast;
  testing::expect_module_gradients(a, {2, 2, 3, 3}, cl);
}

TEST(BasicGradcheck, LogSoftmax) {
  LogSoftmax l;
  testing::expect_module_gradients(l, {4, 10});
}

TEST(BasicGradcheck, Mlp) {
  Generator rng(5);
  Sequential net;
  net.emplace<Flatten>();
  net.emplace<Linear>(LinearOptions(12, 8).with_dtype(DType::kF64), rng);
  net.emplace<ReLU>();
  net.emplace<Linear>(LinearOptions(8, 6).with_dtype(DType::kF64).with_activation(Activation::kReLU), rng);
  net.emplace<Linear>(LinearOptions(6, 3).with_dtype(DType::kF64), rng);
  net.emplace<LogSoftmax>();
  testing::expect_module_gradients(net, {5, 3, 2, 2});
}

}  // namespace
}  // namespace sprint::nn
