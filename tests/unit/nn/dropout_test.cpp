// dropout_test.cpp: Dropout's mask is the counter-based Philox rule of backend/api/dropout.h (reproducible
// from seed and offset, the same for NCHW and NHWC), keeps about 1 − p of the elements, scales by 1 / (1 −
// p), consumes numel words of the generator, and is the identity in eval mode.
#include <gtest/gtest.h>

#include <cmath>

#include "sprint/nn/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::nn {
namespace {

Tensor ones(const Shape& shape, MemoryFormat format = MemoryFormat::kContiguous) {
  return ops::full(cpu_context().compute_stream(), shape, DType::kF32, 1.0, format);
}

TEST(Dropout, MaskFollowsPhiloxRuleAndScales) {
  Dropout drop(0.25);
  Generator rng(99);
  rng.next_u32();  // start at a non-zero offset
  RunContext ctx{cpu_context().compute_stream(), &rng};
  const Tensor y = drop.forward(ctx, ones({4, 100}));
  const DropoutMask m = drop.last_mask();
  EXPECT_EQ(m.seed, 99u);
  EXPECT_EQ(m.offset, 1u);
  EXPECT_EQ(rng.state().offset, 401u);  // reserve(numel)
  const std::vector<float> v = y.to_vector<float>();
  for (size_t e = 0; e < v.size(); ++e) {
    const bool keep = uniform_from_bits(philox_word(99, 1 + e)) >= 0.25f;
    ASSERT_EQ(v[e], keep ? 1.0f / 0.75f : 0.0f) << "element " << e;
  }
}

TEST(Dropout, ReproducibleFromGeneratorState) {
  Dropout drop(0.5);
  RunContext ctx{cpu_context().compute_stream()};
  Generator a(7), b(7);
  ctx.rng = &a;
  const std::vector<float> first = drop.forward(ctx, ones({8, 3, 5, 5})).to_vector<float>();
  const std::vector<float> second = drop.forward(ctx, ones({8, 3, 5, 5})).to_vector<float>();
  EXPECT_NE(first, second);  // the generator moved on
  ctx.rng = &b;
  EXPECT_EQ(drop.forward(ctx, ones({8, 3, 5, 5})).to_vector<float>(), first);
}

TEST(Dropout, SameMaskInBothMemoryFormats) {
  Dropout drop(0.5);
  RunContext ctx{cpu_context().compute_stream()};
  Generator a(3), b(3);
  ctx.rng = &a;
  const std::vector<float> nchw = drop.forward(ctx, ones({2, 7, 3, 4})).to_vector<float>();
  ctx.rng = &b;
  const Tensor y = drop.forward(ctx, ones({2, 7, 3, 4}, MemoryFormat::kChannelsLast));
  EXPECT_TRUE(y.is_channels_last());
  EXPECT_EQ(y.to_vector<float>(), nchw);  // logical order
}

TEST(Dropout, KeepRate) {
  for (double p : {0.1, 0.5, 0.9}) {
    Dropout drop(p);
    Generator rng(11);
    RunContext ctx{cpu_context().compute_stream(), &rng};
    const int64_t n = 200000;
    const std::vector<float> v = drop.forward(ctx, ones({n})).to_vector<float>();
    int64_t kept = 0;
    for (float x : v) kept += x != 0.0f;
    const double rate = static_cast<double>(kept) / static_cast<double>(n);
    const double sigma = std::sqrt(p * (1.0 - p) / static_cast<double>(n));
    EXPECT_NEAR(rate, 1.0 - p, 5.0 * sigma) << "p = " << p;
  }
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  Dropout drop(0.4);
  Generator rng(5);
  RunContext ctx{cpu_context().compute_stream(), &rng};
  const std::vector<float> y = drop.forward(ctx, ones({3, 50})).to_vector<float>();
  const std::vector<float> dx = drop.backward(ctx, ones({3, 50})).to_vector<float>();
  EXPECT_EQ(dx, y);  // both are keep / (1 − p)
}

TEST(Dropout, EvalIsIdentityAndNeedsNoGenerator) {
  Dropout drop(0.5);
  drop.eval();
  RunContext ctx{cpu_context().compute_stream()};
  const Tensor x = ones({4, 4});
  EXPECT_EQ(drop.forward(ctx, x).data(), x.data());
  drop.train();
  EXPECT_THROW(drop.forward(ctx, x), InvalidArgument);  // training without ctx.rng
  EXPECT_THROW(Dropout(1.0), InvalidArgument);
  EXPECT_THROW(Dropout(-0.1), InvalidArgument);
}

}  // namespace
}  // namespace sprint::nn
