// rng_test.cpp: Philox known answers, determinism, counter addressing, distribution sanity.
#include <algorithm>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "sprint/core/rng.h"

namespace sprint {
namespace {

TEST(Philox, KnownAnswerVectors) {
  // Known-answer tests of Philox-4x32-10 from the Random123 distribution (kat_vectors).
  auto zero = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(zero, (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  auto ones = philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(ones, (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  auto pi = philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u});
  EXPECT_EQ(pi, (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Generator, SameSeedSameStream) {
  Generator a(7), b(7), c(8);
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const uint32_t x = a.next_u32();
    EXPECT_EQ(x, b.next_u32());
    differs |= x != c.next_u32();
  }
  EXPECT_TRUE(differs);
}

TEST(Generator, WordsAreAddressable) {
  Generator g(99);
  for (uint64_t i = 0; i < 37; ++i) EXPECT_EQ(g.next_u32(), philox_word(99, i));
  const uint64_t first = g.reserve(10);
  EXPECT_EQ(first, 37u);
  EXPECT_EQ(g.next_u32(), philox_word(99, 47));
}

TEST(Generator, StateRestoreReplays) {
  Generator g(3);
  g.next_u32();
  const GeneratorState s = g.state();
  const float a = g.uniform(), b = g.normal();
  g.set_state(s);
  EXPECT_EQ(g.uniform(), a);
  EXPECT_EQ(g.normal(), b);
}

TEST(Generator, UniformAndNormalMoments) {
  Generator g(11);
  double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = g.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
    const double z = g.normal();
    nsum += z;
    nsum2 += z * z;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.01);
  EXPECT_NEAR(sum2 / n - 0.25, 1.0 / 12.0, 0.01);
  EXPECT_NEAR(nsum / n, 0.0, 0.01);
  EXPECT_NEAR(nsum2 / n, 1.0, 0.02);
}

TEST(Generator, ShuffleIsAPermutationAndSeeded) {
  std::vector<int32_t> a(1000), b(1000);
  std::iota(a.begin(), a.end(), 0);
  std::iota(b.begin(), b.end(), 0);
  Generator g1(5), g2(5);
  g1.shuffle(a);
  g2.shuffle(b);
  EXPECT_EQ(a, b);
  std::vector<int32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  int fixed = 0;
  for (int i = 0; i < 1000; ++i) fixed += a[static_cast<size_t>(i)] == i;
  EXPECT_LT(fixed, 10);
}

TEST(Generator, BelowIsInRangeAndCoversIt) {
  Generator g(1);
  std::vector<int> hist(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t v = g.below(7);
    ASSERT_LT(v, 7u);
    ++hist[v];
  }
  for (int h : hist) EXPECT_GT(h, 800);
}

}  // namespace
}  // namespace sprint
