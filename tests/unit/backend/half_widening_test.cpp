// half_widening_test.cpp: the CPU backend's f16/bf16 operands (half_widening.h). The one-pass conversions (F16C
// for f16, inline for bf16) agree bit for bit with the portable conversions of core/dtype.h on every half value
// and on f32 values at every rounding boundary; accumulating outputs start from the half tensor's values;
// strided views and channel-blocked tensors convert correctly; non-half operands pass through untouched.
#include "sprint/backend/cpu/half_widening.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cpu {
namespace {

const Stream& cpu_stream() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

uint16_t half_bits(const Tensor& t, int64_t i) {
  uint16_t b;
  std::memcpy(&b, static_cast<const char*>(t.data()) + 2 * i, 2);
  return b;
}

// Every 16-bit pattern, as an f16 or bf16 tensor of 65,536 elements (enough for the threaded chunks too).
Tensor all_patterns(DType dtype) {
  Tensor t = Tensor::empty(Shape{65536}, dtype);
  auto* p = static_cast<uint16_t*>(t.data());
  for (uint32_t i = 0; i < 65536; ++i) p[i] = static_cast<uint16_t>(i);
  return t;
}

float portable_widen(DType dtype, uint16_t bits) {
  return dtype == DType::kF16 ? f16_to_float(f16{bits}) : bf16_to_float(bf16{bits});
}
uint16_t portable_narrow(DType dtype, float v) {
  return dtype == DType::kF16 ? f16_from_float(v).bits : bf16_from_float(v).bits;
}

// f32 values around every rounding boundary of the half type: each half value, the midpoints between neighbours
// (ties go to even), one f32 ulp either side of them, and the overflow and subnormal edges.
std::vector<float> boundary_values(DType dtype) {
  std::vector<float> v;
  for (uint32_t i = 0; i < 65535; ++i) {
    const float a = portable_widen(dtype, static_cast<uint16_t>(i));
    const float b = portable_widen(dtype, static_cast<uint16_t>(i + 1));
    if (!std::isfinite(a) || !std::isfinite(b) || std::signbit(a) != std::signbit(b)) continue;
    const float mid = a + (b - a) / 2;
    v.insert(v.end(), {a, mid, std::nextafter(mid, a), std::nextafter(mid, b)});
  }
  v.insert(v.end(), {65504.0f, 65519.0f, 65520.0f, 1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                     -std::numeric_limits<float>::infinity(), 1e-8f, 3e-8f, 6e-8f, -6e-8f, 0.0f, -0.0f,
                     std::numeric_limits<float>::denorm_min()});
  return v;
}

class HalfWideningTest : public ::testing::TestWithParam<DType> {};

TEST_P(HalfWideningTest, WidensEveryHalfValueAsThePortableConversion) {
  const DType dtype = GetParam();
  const Tensor t = all_patterns(dtype);
  HalfWidening h(cpu_stream());
  const Tensor& wide = h.in(t);
  ASSERT_EQ(wide.dtype(), DType::kF32);
  const float* w = wide.data_as<float>();
  for (uint32_t i = 0; i < 65536; ++i) {
    const float expected = portable_widen(dtype, static_cast<uint16_t>(i));
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(w[i])) << "pattern " << i;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(w[i]), std::bit_cast<uint32_t>(expected)) << "pattern " << i;
    }
  }
}

TEST_P(HalfWideningTest, RoundsOutputsAsThePortableConversion) {
  const DType dtype = GetParam();
  const std::vector<float> values = boundary_values(dtype);
  const int64_t n = static_cast<int64_t>(values.size());
  const Tensor t = Tensor::empty(Shape{n}, dtype);
  HalfWidening h(cpu_stream());
  const Tensor& wide = h.out(t);
  std::memcpy(wide.data(), values.data(), sizeof(float) * values.size());
  h.finish();
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(half_bits(t, i), portable_narrow(dtype, values[i])) << "value " << values[i];
  // NaN stays NaN (its payload is the conversion's business).
  const Tensor one = Tensor::empty(Shape{9}, dtype);
  HalfWidening g(cpu_stream());
  const Tensor& w = g.out(one);
  for (int i = 0; i < 9; ++i) w.data_as<float>()[i] = std::numeric_limits<float>::quiet_NaN();
  g.finish();
  for (int i = 0; i < 9; ++i) EXPECT_TRUE(std::isnan(portable_widen(dtype, half_bits(one, i))));
}

TEST_P(HalfWideningTest, AccumulatingOutputsStartFromTheHalfValues) {
  const DType dtype = GetParam();
  const Tensor t = ops::cast_to(cpu_stream(), Tensor::from_values<float>({1.5f, -2.0f, 0.25f}, Shape{3}), dtype);
  HalfWidening h(cpu_stream());
  const Tensor& acc = h.out(t, GradMode::kAccumulate);
  EXPECT_EQ(acc.data_as<float>()[0], 1.5f);
  EXPECT_EQ(acc.data_as<float>()[1], -2.0f);
  EXPECT_EQ(acc.data_as<float>()[2], 0.25f);
  for (int i = 0; i < 3; ++i) acc.data_as<float>()[i] += 1.0f;
  h.finish();
  const Tensor back = ops::cast_to(cpu_stream(), t, DType::kF32);
  EXPECT_EQ(back.data_as<float>()[0], 2.5f);
  EXPECT_EQ(back.data_as<float>()[1], -1.0f);
  EXPECT_EQ(back.data_as<float>()[2], 1.25f);
}

TEST_P(HalfWideningTest, StridedViewsAndBlockedTensorsKeepTheirElements) {
  const DType dtype = GetParam();
  Generator rng(7);
  const Shape shape{2, 11, 3, 5};  // 11 channels: a partial last block
  Tensor logical = Tensor::empty(shape, DType::kF32);
  for (int64_t i = 0; i < logical.numel(); ++i) logical.data_as<float>()[i] = static_cast<float>(i % 97) / 8.0f;
  for (MemoryFormat format : {MemoryFormat::kChannelsLast, MemoryFormat::kChannelsBlocked8,
                              MemoryFormat::kChannelsBlocked16}) {
    SCOPED_TRACE(memory_format_name(format));
    const Tensor half = ops::cast_to(cpu_stream(), logical, dtype, format);
    HalfWidening h(cpu_stream());
    const Tensor& wide = h.in(half);
    EXPECT_EQ(wide.memory_format(), format);
    const Tensor plain = ops::cast_to(cpu_stream(), wide, DType::kF32, MemoryFormat::kContiguous);
    for (int64_t i = 0; i < logical.numel(); ++i)
      ASSERT_EQ(plain.data_as<float>()[i], logical.data_as<float>()[i]);  // exact in both dtypes
  }
  // A view that skips channels: widened densely, written back into the view only.
  const Tensor half = ops::cast_to(cpu_stream(), logical, dtype);
  const Tensor view = half.narrow(1, 2, 5);
  HalfWidening h(cpu_stream());
  const Tensor& wide = h.in(view);
  EXPECT_TRUE(wide.is_contiguous());
  const Tensor& out = h.out(view);
  ops::fill(cpu_stream(), out, -3.0);
  h.finish();
  const Tensor back = ops::cast_to(cpu_stream(), half, DType::kF32);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 11; ++c)
      for (int64_t hw = 0; hw < 15; ++hw) {
        const int64_t i = (n * 11 + c) * 15 + hw;
        const float expected = c >= 2 && c < 7 ? -3.0f : logical.data_as<float>()[i];
        ASSERT_EQ(back.data_as<float>()[i], expected) << n << "," << c << "," << hw;
        if (c >= 2 && c < 7) {
          EXPECT_EQ(wide.data_as<float>()[(n * 5 + c - 2) * 15 + hw], logical.data_as<float>()[i]);
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, HalfWideningTest, ::testing::Values(DType::kF16, DType::kBF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(HalfWidening, PassesOtherOperandsThrough) {
  const Tensor f32 = Tensor::empty(Shape{4}, DType::kF32);
  const Tensor undefined;
  HalfWidening h(cpu_stream());
  EXPECT_EQ(&h.in(f32), &f32);
  EXPECT_EQ(&h.out(f32, GradMode::kAccumulate), &f32);
  EXPECT_EQ(&h.scratch(f32), &f32);
  EXPECT_EQ(&h.in(undefined), &undefined);
  EXPECT_FALSE(any_half({&f32, &undefined}));
  const Tensor bf = Tensor::empty(Shape{4}, DType::kBF16);
  EXPECT_TRUE(any_half({&f32, &bf}));
  EXPECT_FALSE(is_half(Tensor::empty(Shape{4}, DType::kF64)));
}

}  // namespace
}  // namespace sprint::cpu
