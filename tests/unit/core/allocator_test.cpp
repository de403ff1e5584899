// allocator_test.cpp: host allocator statistics (current and peak, allocated and reserved).
#include <gtest/gtest.h>

#include "sprint/core/tensor.h"

namespace sprint {
namespace {

TEST(CpuAllocator, TracksCurrentAndPeakBytes) {
  CpuAllocator allocator;
  {
    Tensor a = Tensor::empty({1000}, DType::kF32, allocator);
    EXPECT_EQ(allocator.stats().allocated_bytes, 4000);
    {
      Tensor b = Tensor::empty({500}, DType::kF64, allocator);
      EXPECT_EQ(allocator.stats().allocated_bytes, 8000);
    }
    EXPECT_EQ(allocator.stats().allocated_bytes, 4000);
    EXPECT_EQ(allocator.stats().peak_allocated_bytes, 8000);
    allocator.reset_peak_stats();
    EXPECT_EQ(allocator.stats().peak_allocated_bytes, 4000);
  }
  const AllocatorStats s = allocator.stats();
  EXPECT_EQ(s.allocated_bytes, 0);
  EXPECT_EQ(s.reserved_bytes, 0);
  EXPECT_EQ(s.n_allocations, 2);
  EXPECT_EQ(s.peak_reserved_bytes, 4000);  // peak since the reset
}

TEST(CpuAllocator, OutOfMemoryIsAnException) {
  CpuAllocator allocator;
  EXPECT_THROW(allocator.allocate(size_t{1} << 62), OutOfMemory);
  EXPECT_EQ(format_bytes(362 * 1024 * 1024), "362.0 MiB");
}

}  // namespace
}  // namespace sprint
