// pool_gradcheck_test.cpp: float64 finite differences for MaxPool2d, AvgPool2d (non-overlapping, overlapping,
// padded, include/exclude padding) and the global pools, in both memory formats.
#include <gtest/gtest.h>

#include "sprint/nn/conv.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/sequential.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

void check_both_formats(Module& m, const Shape& shape) {
  testing::GradcheckOptions o;
  testing::expect_module_gradients(m, shape, o);
  o.input_format = MemoryFormat::kChannelsLast;
  testing::expect_module_gradients(m, shape, o);
}

TEST(PoolGradcheck, MaxPool2x2) {
  MaxPool2d pool(2);
  check_both_formats(pool, {2, 3, 6, 4});
}

TEST(PoolGradcheck, MaxPoolOverlappingPadded) {
  // 3x3 windows, stride 2, padding 1: inputs shared by two windows collect both gradients.
  MaxPool2d pool(PoolOptions(3).with_stride(2).with_padding(1));
  check_both_formats(pool, {2, 2, 7, 6});
}

TEST(PoolGradcheck, MaxPoolOddInputDropsLastRow) {
  MaxPool2d pool(2);
  check_both_formats(pool, {1, 2, 5, 5});
}

TEST(PoolGradcheck, AvgPool2x2) {
  AvgPool2d pool(2);
  check_both_formats(pool, {2, 3, 4, 6});
}

TEST(PoolGradcheck, AvgPoolPaddedIncludeAndExclude) {
  AvgPool2d include(PoolOptions(3).with_stride(1).with_padding(1));
  check_both_formats(include, {2, 2, 4, 5});
  AvgPool2d exclude(PoolOptions(3).with_stride(2).with_padding(1).with_count_include_pad(false));
  check_both_formats(exclude, {2, 2, 5, 5});
}

TEST(PoolGradcheck, GlobalAverage) {
  GlobalAvgPool2d pool;
  check_both_formats(pool, {3, 4, 3, 5});
}

TEST(PoolGradcheck, GlobalMax) {
  GlobalMaxPool2d pool;
  check_both_formats(pool, {3, 4, 3, 5});
}

TEST(PoolGradcheck, ConvThenPools) {
  Generator rng(1);
  Sequential net;
  net.emplace<Conv2d>(ConvOptions(2, 3, 3).with_padding(1).with_dtype(DType::kF64), rng);
  net.emplace<MaxPool2d>(2);
  net.emplace<GlobalAvgPool2d>();
  check_both_formats(net, {2, 2, 6, 6});
}

}  // namespace
}  // namespace sprint::nn
