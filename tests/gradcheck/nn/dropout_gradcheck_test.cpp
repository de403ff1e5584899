// dropout_gradcheck_test.cpp: float64 finite differences for Dropout in training mode (the mask is replayed
// from the same generator state on every evaluation), both memory formats, inside a small network, and in
// eval mode.
#include <gtest/gtest.h>

#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

TEST(DropoutGradcheck, TrainingBothFormats) {
  Dropout drop(0.3);
  testing::GradcheckOptions o;
  testing::expect_module_gradients(drop, {2, 3, 4, 5}, o);
  o.input_format = MemoryFormat::kChannelsLast;
  testing::expect_module_gradients(drop, {2, 3, 4, 5}, o);
}

TEST(DropoutGradcheck, InsideNetwork) {
  Generator rng(1);
  Sequential net;
  net.emplace<Linear>(LinearOptions(6, 8).with_dtype(DType::kF64), rng);
  net.emplace<Dropout>(0.5);
  net.emplace<Linear>(LinearOptions(8, 3).with_dtype(DType::kF64), rng);
  testing::expect_module_gradients(net, {5, 6});
}

TEST(DropoutGradcheck, EvalIsIdentity) {
  Generator rng(2);
  Sequential net;
  net.emplace<Conv2d>(ConvOptions(2, 2, 3).with_padding(1).with_dtype(DType::kF64), rng);
  net.emplace<Dropout>(0.9);
  testing::GradcheckOptions o;
  o.training = false;
  testing::expect_module_gradients(net, {2, 2, 3, 3}, o);
}

}  // namespace
}  // namespace sprint::nn
