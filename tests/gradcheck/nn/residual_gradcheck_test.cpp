// residual_gradcheck_test.cpp: float64 finite differences for Residual (identity and module shortcuts, the
// input gradient summing both branches) and ResidualBlock (identity shortcut; stride-2 projection shortcut),
// both formats.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/residual.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

void check_both_formats(Module& m, const Shape& shape, int64_t max_probes = 0) {
  testing::GradcheckOptions o;
  o.max_probes = max_probes;
  testing::expect_module_gradients(m, shape, o);
  o.input_format = MemoryFormat::kChannelsLast;
  testing::expect_module_gradients(m, shape, o);
}

ModulePtr conv(int64_t in, int64_t out, int64_t kernel, Generator& rng, int64_t stride = 1) {
  return std::make_shared<Conv2d>(
      ConvOptions(in, out, kernel).with_stride(stride).with_padding(kernel / 2).with_dtype(DType::kF64), rng);
}

TEST(ResidualGradcheck, IdentityShortcut) {
  Generator rng(1);
  auto body = std::make_shared<Sequential>();
  body->add(conv(3, 3, 3, rng));
  body->add(std::make_shared<ReLU>());
  body->add(conv(3, 3, 3, rng));
  Residual res(body);
  check_both_formats(res, {2, 3, 4, 4});
}

TEST(ResidualGradcheck, ModuleShortcut) {
  Generator rng(2);
  Residual res(conv(2, 4, 3, rng, 2), conv(2, 4, 1, rng, 2));
  check_both_formats(res, {2, 2, 5, 5});
}

TEST(ResidualGradcheck, BasicBlockIdentity) {
  Generator rng(3);
  ResidualBlock block(ResidualBlockOptions(3, 3).with_dtype(DType::kF64), rng);
  EXPECT_EQ(block.shortcut(), nullptr);
  check_both_formats(block, {2, 3, 4, 4}, 40);
}

TEST(ResidualGradcheck, BasicBlockProjection) {
  Generator rng(4);
  ResidualBlock block(ResidualBlockOptions(2, 4).with_stride(2).with_dtype(DType::kF64), rng);
  ASSERT_NE(block.shortcut(), nullptr);
  check_both_formats(block, {2, 2, 6, 6}, 40);
}

TEST(ResidualGradcheck, TwoBlocksAndHead) {
  Generator rng(5);
  Sequential net;
  net.emplace<ResidualBlock>(ResidualBlockOptions(2, 3).with_stride(2).with_dtype(DType::kF64), rng);
  net.emplace<ResidualBlock>(ResidualBlockOptions(3, 3).with_dtype(DType::kF64), rng);
  net.emplace<GlobalAvgPool2d>();
  check_both_formats(net, {3, 2, 4, 4}, 30);
}

}  // namespace
}  // namespace sprint::nn
