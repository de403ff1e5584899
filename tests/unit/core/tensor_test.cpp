// tensor_test.cpp: Tensor construction, views, memory formats, conversions and checks.
#include <gtest/gtest.h>

#include "sprint/core/tensor.h"

namespace sprint {
namespace {

TEST(Tensor, EmptyHasShapeStridesAndOwnsMemory) {
  Tensor t = Tensor::empty({2, 3, 4}, DType::kF32);
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.n_bytes(), 96u);
  EXPECT_EQ(t.strides(), (Strides{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_THROW(t.dim(3), InvalidArgument);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  EXPECT_EQ(t.description(), "f32[2, 3, 4] cpu");
}

TEST(Tensor, FromValuesAndToVector) {
  Tensor t = Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(Tensor::from_values(std::vector<float>{1, 2}, {3}), InvalidArgument);
  EXPECT_THROW(t.data_as<double>(), InvalidArgument);
}

TEST(Tensor, ReshapeAndNarrowShareStorage) {
  Tensor t = Tensor::from_values(std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor r = t.reshape({2, -1});
  EXPECT_EQ(r.shape(), (Shape{2, 4}));
  EXPECT_EQ(r.data(), t.data());
  Tensor rows = t.rows(1, 2);
  EXPECT_EQ(rows.to_vector<int32_t>(), (std::vector<int32_t>{2, 3, 4, 5}));
  EXPECT_TRUE(rows.is_contiguous());
  Tensor col = t.narrow(1, 1, 1);
  EXPECT_EQ(col.to_vector<int32_t>(), (std::vector<int32_t>{1, 3, 5, 7}));
  EXPECT_FALSE(col.is_contiguous());
  EXPECT_THROW(col.reshape({4}), InvalidArgument);
  EXPECT_THROW(t.reshape({3, -1}), InvalidArgument);
  EXPECT_THROW(t.narrow(0, 3, 2), InvalidArgument);
  EXPECT_TRUE(rows.overlaps(t));
  EXPECT_FALSE(t.rows(0, 1).overlaps(t.rows(1, 1)));
}

TEST(Tensor, ChannelsLastStridesAndLogicalOrder) {
  Tensor t = Tensor::empty({1, 2, 2, 3}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsLast);
  EXPECT_EQ(t.strides(), (Strides{12, 1, 6, 2}));
  EXPECT_TRUE(t.is_channels_last());
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.memory_format(), MemoryFormat::kChannelsLast);
  // Memory order is N, H, W, C; to_vector reads in logical N, C, H, W order.
  float* p = t.data_as<float>();
  for (int i = 0; i < 12; ++i) p[i] = static_cast<float>(i);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}));
}

TEST(Tensor, WrapDoesNotOwn) {
  float buffer[4] = {1, 2, 3, 4};
  const int64_t before = cpu_allocator().stats().allocated_bytes;
  {
    Tensor t = Tensor::wrap(buffer, {4}, DType::kF32);
    EXPECT_EQ(t.to_vector<float>()[3], 4.0f);
  }
  EXPECT_EQ(cpu_allocator().stats().allocated_bytes, before);
}

TEST(Tensor, Checks) {
  Tensor t = Tensor::empty({2, 2}, DType::kF32);
  EXPECT_NO_THROW(check_shape(t, {2, 2}, "t"));
  EXPECT_THROW(check_shape(t, {4}, "t"), InvalidArgument);
  EXPECT_THROW(check_tensor(t, kCPU, DType::kF64, "t"), InvalidArgument);
  EXPECT_THROW(Tensor::empty({-1}, DType::kF32), InvalidArgument);
  EXPECT_THROW(Tensor().data(), InvalidArgument);
}

}  // namespace
}  // namespace sprint
