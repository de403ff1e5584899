// translate_flip_test.cpp: the test-time views (ops::translate_flip) on the CPU: airbench's crops of a
// reflect-padded image by hand, the fast path against the reference in every floating dtype and both layouts
// (bit for bit: views copy values), and the front door's errors.
#include <gtest/gtest.h>

#include "sprint/core/error.h"
#include "sprint/ops/augment.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint {
namespace {

Stream cpu_stream() { return cpu_context().compute_stream(); }

// (1, 1, 3, 4) with value 4y + x.
Tensor grid() {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return Tensor::from_values(v, {1, 1, 3, 4});
}

std::vector<float> view(const Tensor& x, int shift, bool flip) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  ops::translate_flip(cpu_stream(), {.x = x, .out = out, .shift_y = shift, .shift_x = shift, .flip = flip});
  return out.to_vector<float>();
}

// numpy: p = np.pad(x, 1, mode='reflect'); p[0:3, 0:4] (shift -1) and p[2:5, 2:6] (shift +1); then [:, ::-1].
TEST(TranslateFlip, AirbenchViewsByHand) {
  const Tensor x = grid();
  EXPECT_EQ(view(x, 0, false), x.to_vector<float>());
  EXPECT_EQ(view(x, 0, true), (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  EXPECT_EQ(view(x, -1, false), (std::vector<float>{5, 4, 5, 6, 1, 0, 1, 2, 5, 4, 5, 6}));
  EXPECT_EQ(view(x, 1, false), (std::vector<float>{5, 6, 7, 6, 9, 10, 11, 10, 5, 6, 7, 6}));
  EXPECT_EQ(view(x, -1, true), (std::vector<float>{6, 5, 4, 5, 2, 1, 0, 1, 6, 5, 4, 5}));
  EXPECT_EQ(view(x, 1, true), (std::vector<float>{6, 7, 6, 5, 10, 11, 10, 9, 6, 7, 6, 5}));
}

TEST(TranslateFlip, FastPathEqualsReferenceInEveryDtypeAndLayout) {
  Generator rng(7);
  const Tensor x64 = testing::random_tensor({3, 5, 6, 7}, DType::kF64, rng);
  for (DType dtype : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16})
    for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast})
      for (int shift_y : {-2, 0, 1})
        for (int shift_x : {-1, 0, 3})
          for (bool flip : {false, true}) {
            SCOPED_TRACE(::testing::Message() << dtype_name(dtype) << " " << static_cast<int>(format) << " shift "
                                              << shift_y << "," << shift_x << " flip " << flip);
            const Tensor x = ops::cast_to(cpu_stream(), x64, dtype, format);
            Tensor fast = Tensor::empty(x.shape(), dtype, cpu_allocator(), format);
            Tensor ref = Tensor::empty(x.shape(), dtype, cpu_allocator(), format);
            const TranslateFlipArgs args{.x = x, .out = fast, .shift_y = shift_y, .shift_x = shift_x, .flip = flip};
            ops::translate_flip(cpu_stream(), args);
            cpu::ref::translate_flip({.x = x, .out = ref, .shift_y = shift_y, .shift_x = shift_x, .flip = flip});
            EXPECT_EQ(fast.to_vector<double>(), ref.to_vector<double>());
            EXPECT_EQ(fast.memory_format(), format);
          }
}

TEST(TranslateFlip, FrontDoorErrors) {
  const Tensor x = grid();
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = out, .shift_y = 3}), InvalidArgument);
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = out, .shift_x = -4}), InvalidArgument);
  EXPECT_NO_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = out, .shift_y = 2, .shift_x = -3}));
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = x, .flip = true}), InvalidArgument);  // alias
  Tensor wrong = Tensor::empty({1, 1, 4, 3}, x.dtype());
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = wrong}), InvalidArgument);
  Tensor f64 = Tensor::empty(x.shape(), DType::kF64);
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = x, .out = f64}), InvalidArgument);
  const Tensor flat = Tensor::empty({3, 4}, DType::kF32);
  EXPECT_THROW(ops::translate_flip(cpu_stream(), {.x = flat, .out = flat}), InvalidArgument);
}

}  // namespace
}  // namespace sprint
