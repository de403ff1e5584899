// dtype_test.cpp: dtype names and the f16/bf16 conversions (exact values, rounding, specials).
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "sprint/core/dtype.h"
#include "sprint/core/error.h"

namespace sprint {
namespace {

TEST(DType, NamesRoundTrip) {
  for (DType d : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64, DType::kU8})
    EXPECT_EQ(parse_dtype(dtype_name(d)), d);
  EXPECT_EQ(parse_dtype("bfloat16"), DType::kBF16);
  EXPECT_THROW(parse_dtype("f8"), InvalidArgument);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
}

TEST(DType, HalfKnownValues) {
  EXPECT_EQ(f16_from_float(1.0f).bits, 0x3c00);
  EXPECT_EQ(f16_from_float(-2.0f).bits, 0xc000);
  EXPECT_EQ(f16_from_float(65504.0f).bits, 0x7bff);
  EXPECT_EQ(f16_from_float(65520.0f).bits, 0x7c00);             // rounds to infinity
  EXPECT_EQ(f16_from_float(std::ldexp(1.0f, -24)).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_from_float(std::ldexp(1.0f, -25)).bits, 0x0000);  // tie to even: zero
  EXPECT_EQ(f16_from_float(std::ldexp(1.5f, -25)).bits, 0x0001);
  EXPECT_EQ(f16_from_float(1.0f + std::ldexp(1.0f, -11)).bits, 0x3c00);  // tie to even
  EXPECT_EQ(f16_from_float(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3c02);
  EXPECT_TRUE(std::isnan(f16_to_float(f16_from_float(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(f16_to_float(f16{0x0001}), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(f16{0x3555}), 0.333251953125f);
}

TEST(DType, HalfRoundTripsEveryValue) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const f16 h{static_cast<uint16_t>(bits)};
    const float f = f16_to_float(h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f16_from_float(f).bits, h.bits) << std::hex << bits;
  }
}

TEST(DType, BFloat16) {
  EXPECT_EQ(bf16_from_float(1.0f).bits, 0x3f80);
  EXPECT_EQ(bf16_to_float(bf16{0x4049}), 3.140625f);
  EXPECT_EQ(bf16_from_float(1.0f + std::ldexp(1.0f, -8)).bits, 0x3f80);      // tie to even
  EXPECT_EQ(bf16_from_float(1.0f + 3 * std::ldexp(1.0f, -8)).bits, 0x3f82);  // tie to even (up)
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const bf16 b{static_cast<uint16_t>(bits)};
    const float f = bf16_to_float(b);
    if (std::isnan(f)) continue;
    ASSERT_EQ(bf16_from_float(f).bits, b.bits);
  }
}

}  // namespace
}  // namespace sprint
