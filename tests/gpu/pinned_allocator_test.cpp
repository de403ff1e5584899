// pinned_allocator_test.cpp: page-locked host memory: size classes, reuse, statistics, release, and use as
// the host side of asynchronous copies.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "gpu/gpu_test_util.h"
#include "sprint/runtime/cuda/pinned_allocator.h"

namespace sprint {
namespace {

using cuda::PinnedAllocator;

class PinnedAllocatorTest : public testing::CudaTest {};

TEST_F(PinnedAllocatorTest, SizeClassesAreHostPowersOfTwo) {
  PinnedAllocator alloc(0);
  EXPECT_EQ(alloc.device(), kCPU);
  EXPECT_EQ(PinnedAllocator::round_size(0), 512u);
  EXPECT_EQ(PinnedAllocator::round_size(600), 1024u);
  EXPECT_EQ(PinnedAllocator::round_size(1 << 20), size_t{1} << 20);
  EXPECT_EQ(PinnedAllocator::round_size((1 << 20) + 1), size_t{2} << 20);
}

TEST_F(PinnedAllocatorTest, CachesAndReusesBlocks) {
  PinnedAllocator alloc(0);
  void* p = alloc.allocate(3000);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5a, 3000);  // host-writable
  AllocatorStats s = alloc.stats();
  EXPECT_EQ(s.allocated_bytes, 4096);
  EXPECT_EQ(s.reserved_bytes, 4096);
  alloc.deallocate(p, 3000);
  EXPECT_EQ(alloc.cached_bytes(), 4096);
  void* q = alloc.allocate(2500);  // same size class
  EXPECT_EQ(q, p);
  EXPECT_EQ(alloc.stats().n_system_allocations, 1);
  alloc.deallocate(q, 2500);
  alloc.release_cached();
  EXPECT_EQ(alloc.cached_bytes(), 0);
  EXPECT_EQ(alloc.stats().reserved_bytes, 0);
  EXPECT_EQ(alloc.stats().peak_reserved_bytes, 4096);
}

TEST_F(PinnedAllocatorTest, ContextHostAllocatorIsPinnedAndCopiesRoundTrip) {
  Allocator& host = context().host_allocator();
  EXPECT_EQ(host.device(), kCPU);
  const int64_t n = (1 << 20) + 3;
  Tensor src = Tensor::empty({n}, DType::kI32, host);
  std::iota(src.data_as<int32_t>(), src.data_as<int32_t>() + n, -5);
  Tensor dev = Tensor::empty({n}, DType::kI32, context().allocator());
  Tensor back = Tensor::empty({n}, DType::kI32, host);
  context().copy_bytes(stream(), dev.data(), src.data(), src.n_bytes(), CopyKind::kHostToDevice);
  context().copy_bytes(stream(), back.data(), dev.data(), dev.n_bytes(), CopyKind::kDeviceToHost);
  stream().synchronize();
  EXPECT_EQ(std::memcmp(src.data(), back.data(), src.n_bytes()), 0);
}

}  // namespace
}  // namespace sprint
