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

TEST(Tensor, ChannelBlockedLayoutPadsChannelsWithZeros) {
  // (N, C, H, W) = (2, 11, 3, 2) by 8 channels: (2, 2, 3, 2, 8) in memory, channels 11..15 are padding.
  Tensor t = Tensor::empty({2, 11, 3, 2}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsBlocked8);
  EXPECT_TRUE(t.is_channel_blocked());
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_FALSE(t.is_channels_last());
  EXPECT_EQ(t.memory_format(), MemoryFormat::kChannelsBlocked8);
  EXPECT_EQ(t.channel_block(), 8);
  EXPECT_EQ(t.strides(), (Strides{96, 48, 16, 8}));
  EXPECT_EQ(t.numel(), 132);
  EXPECT_EQ(t.storage_numel(), 192);
  EXPECT_EQ(t.n_bytes(), 768u);
  EXPECT_EQ(t.description(), "f32[2, 11, 3, 2] cpu blocked8c");
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.storage_numel(); ++i) EXPECT_EQ(p[i], 0.0f) << "not zero-filled at " << i;
  // Logical order: element (n, c, h, w) lives at n·96 + (c / 8)·48 + h·16 + w·8 + c % 8.
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 11; ++c)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t w = 0; w < 2; ++w)
          p[n * 96 + c / 8 * 48 + h * 16 + w * 8 + c % 8] = static_cast<float>(((n * 11 + c) * 3 + h) * 2 + w);
  const std::vector<float> v = t.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], static_cast<float>(i));
  // Batch slices keep the layout; other views and reshapes are refused.
  const Tensor second = t.rows(1, 1);
  EXPECT_EQ(second.storage_numel(), 96);
  EXPECT_EQ(second.to_vector<float>()[0], 66.0f);
  EXPECT_TRUE(second.overlaps(t));
  EXPECT_FALSE(second.overlaps(t.rows(0, 1)));
  EXPECT_THROW(t.narrow(1, 0, 8), InvalidArgument);
  EXPECT_THROW(t.reshape({2, -1}), InvalidArgument);
  EXPECT_THROW(Tensor::empty({4, 8}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsBlocked16), InvalidArgument);
  Tensor t16 = Tensor::empty({1, 16, 1, 1}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsBlocked16);
  EXPECT_EQ(t16.storage_numel(), 16);
  EXPECT_EQ(channel_block(MemoryFormat::kChannelsLast), 0);
  EXPECT_STREQ(memory_format_name(MemoryFormat::kChannelsBlocked16), "blocked16c");
}

TEST(Tensor, BlockedWeightsPadBothChannelDimensions) {
  // (K, C, R, S) = (11, 5, 3, 2) by 8: (2, 1, 3, 2, 8 of C, 8 of K) in memory; K 11..15 and C 5..7 are padding.
  Tensor t = Tensor::empty({11, 5, 3, 2}, DType::kF32, cpu_allocator(), MemoryFormat::kWeightsBlocked8);
  EXPECT_TRUE(t.is_weight_blocked());
  EXPECT_TRUE(t.is_blocked());
  EXPECT_FALSE(t.is_channel_blocked());
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_FALSE(t.is_channels_last());
  EXPECT_EQ(t.memory_format(), MemoryFormat::kWeightsBlocked8);
  EXPECT_EQ(t.weight_block(), 8);
  EXPECT_EQ(t.channel_block(), 0);
  EXPECT_EQ(t.strides(), (Strides{384, 384, 128, 64}));
  EXPECT_EQ(t.numel(), 330);
  EXPECT_EQ(t.storage_numel(), 768);
  EXPECT_EQ(t.description(), "f32[11, 5, 3, 2] cpu oihw8i8o");
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.storage_numel(); ++i) EXPECT_EQ(p[i], 0.0f) << "not zero-filled at " << i;
  // Weight (k, c, r, s) lives at (k / 8)·384 + (c / 8)·384 + r·128 + s·64 + (c % 8)·8 + k % 8.
  for (int64_t k = 0; k < 11; ++k)
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t r = 0; r < 3; ++r)
        for (int64_t s = 0; s < 2; ++s)
          p[k / 8 * 384 + r * 128 + s * 64 + c * 8 + k % 8] = static_cast<float>(((k * 5 + c) * 3 + r) * 2 + s);
  const std::vector<float> v = t.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], static_cast<float>(i));
  EXPECT_THROW(t.narrow(0, 0, 8), InvalidArgument);
  EXPECT_THROW(t.reshape({-1}), InvalidArgument);
  EXPECT_TRUE(t.overlaps(t));
  EXPECT_THROW(Tensor::empty({4, 8}, DType::kF32, cpu_allocator(), MemoryFormat::kWeightsBlocked16), InvalidArgument);
  Tensor t16 = Tensor::empty({16, 17, 1, 1}, DType::kF32, cpu_allocator(), MemoryFormat::kWeightsBlocked16);
  EXPECT_EQ(t16.storage_numel(), 16 * 32);
  EXPECT_EQ(weight_block(MemoryFormat::kChannelsBlocked8), 0);
  EXPECT_EQ(channel_block(MemoryFormat::kWeightsBlocked8), 0);
  EXPECT_STREQ(memory_format_name(MemoryFormat::kWeightsBlocked16), "oihw16i16o");
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
