// caching_allocator_test.cpp: size classes, reuse, split/merge, statistics, release and the out-of-memory
// message of the CUDA caching allocator. Each test builds its own allocator (fresh statistics) on the compute
// stream.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "gpu/gpu_test_util.h"
#include "sprint/runtime/cuda/caching_allocator.h"

namespace sprint {
namespace {

using cuda::CachingAllocator;
constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

class CachingAllocatorTest : public testing::CudaTest {
 protected:
  std::unique_ptr<CachingAllocator> make() {
    return std::make_unique<CachingAllocator>(0, context().native_stream(stream()));
  }
};

TEST_F(CachingAllocatorTest, RoundsRequests) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(3 * kMiB + 1), 3 * kMiB + 512);
}

TEST_F(CachingAllocatorTest, ReusesFreedBlocksWithoutCudaMalloc) {
  auto alloc = make();
  void* p = alloc->allocate(1000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  AllocatorStats s = alloc->stats();
  EXPECT_EQ(s.allocated_bytes, 1024);
  EXPECT_EQ(s.reserved_bytes, static_cast<int64_t>(CachingAllocator::kSmallSegment));
  EXPECT_EQ(s.n_system_allocations, 1);
  alloc->deallocate(p, 1000);
  EXPECT_EQ(alloc->stats().allocated_bytes, 0);
  EXPECT_EQ(alloc->cached_bytes(), static_cast<int64_t>(CachingAllocator::kSmallSegment));
  void* q = alloc->allocate(900);
  EXPECT_EQ(q, p);  // best fit: the same block again
  s = alloc->stats();
  EXPECT_EQ(s.n_system_allocations, 1);
  EXPECT_EQ(s.n_allocations, 2);
  EXPECT_EQ(s.peak_allocated_bytes, 1024);
  alloc->deallocate(q, 900);
}

TEST_F(CachingAllocatorTest, SplitsAndMergesSmallBlocks) {
  auto alloc = make();
  void* a = alloc->allocate(512 * kKiB);
  void* b = alloc->allocate(512 * kKiB);
  void* c = alloc->allocate(512 * kKiB);
  EXPECT_EQ(alloc->n_segments(), 1);  // three blocks carved from one 2 MiB segment
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), static_cast<ptrdiff_t>(512 * kKiB));
  EXPECT_EQ(static_cast<char*>(c) - static_cast<char*>(b), static_cast<ptrdiff_t>(512 * kKiB));
  alloc->deallocate(b, 512 * kKiB);
  alloc->deallocate(a, 512 * kKiB);
  alloc->deallocate(c, 512 * kKiB);
  // Everything merged back into one free block: a 1 MiB request starts at the segment base.
  void* big = alloc->allocate(kMiB);
  EXPECT_EQ(big, a);
  EXPECT_EQ(alloc->n_segments(), 1);
  alloc->deallocate(big, kMiB);
}

TEST_F(CachingAllocatorTest, LargeRequestsShareOrOwnSegments) {
  auto alloc = make();
  void* a = alloc->allocate(5 * kMiB);
  void* b = alloc->allocate(5 * kMiB);
  EXPECT_EQ(alloc->n_segments(), 1);  // both from one 20 MiB segment
  EXPECT_EQ(alloc->stats().reserved_bytes, static_cast<int64_t>(CachingAllocator::kLargeSegment));
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), static_cast<ptrdiff_t>(5 * kMiB));
  void* c = alloc->allocate(33 * kMiB);  // >= 10 MiB: own 34 MiB segment, handed out whole (1 MiB rest kept)
  EXPECT_EQ(alloc->n_segments(), 2);
  EXPECT_EQ(alloc->stats().reserved_bytes, static_cast<int64_t>(CachingAllocator::kLargeSegment + 34 * kMiB));
  void* small = alloc->allocate(100);  // small requests never come from large segments
  EXPECT_EQ(alloc->n_segments(), 3);
  for (auto [p, n] : {std::pair{a, 5 * kMiB}, {b, 5 * kMiB}, {c, 33 * kMiB}, {small, size_t{100}}})
    alloc->deallocate(p, n);
  EXPECT_EQ(alloc->stats().allocated_bytes, 0);
  // Statistics count block sizes: c holds its whole 34 MiB segment.
  EXPECT_EQ(alloc->stats().peak_allocated_bytes, static_cast<int64_t>(44 * kMiB + 512));
}

TEST_F(CachingAllocatorTest, ReleaseCachedReturnsFreeSegments) {
  auto alloc = make();
  void* keep = alloc->allocate(kMiB);
  void* drop = alloc->allocate(40 * kMiB);
  alloc->deallocate(drop, 40 * kMiB);
  EXPECT_EQ(alloc->n_segments(), 2);
  alloc->release_cached();
  EXPECT_EQ(alloc->n_segments(), 1);  // the segment with a live block stays
  EXPECT_EQ(alloc->stats().reserved_bytes, static_cast<int64_t>(CachingAllocator::kSmallSegment));
  EXPECT_EQ(alloc->stats().peak_reserved_bytes,
            static_cast<int64_t>(CachingAllocator::kSmallSegment + 40 * kMiB));
  alloc->deallocate(keep, kMiB);
  alloc->release_cached();
  EXPECT_EQ(alloc->stats().reserved_bytes, 0);
  EXPECT_EQ(alloc->n_segments(), 0);
  alloc->reset_peak_stats();
  EXPECT_EQ(alloc->stats().peak_reserved_bytes, 0);
}

TEST_F(CachingAllocatorTest, OutOfMemoryMessageCarriesSizesAndStatistics) {
  auto alloc = make();
  alloc->set_memory_limit(64 * kMiB);
  void* held = alloc->allocate(30 * kMiB);
  try {
    (void)alloc->allocate(100 * kMiB);
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("CUDA out of memory on cuda:0: tried to allocate 100.0 MiB"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("30.0 MiB allocated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("30.0 MiB reserved"), std::string::npos) << msg;
    EXPECT_NE(msg.find("total"), std::string::npos) << msg;
    std::printf("OOM message: %s\n", msg.c_str());
  }
  alloc->deallocate(held, 30 * kMiB);
  // A request no GPU can satisfy goes through the real cudaMalloc failure path.
  alloc->set_memory_limit(0);
  EXPECT_THROW((void)alloc->allocate(size_t{1} << 52), OutOfMemory);
  // The allocator still works afterwards.
  void* p = alloc->allocate(kMiB);
  EXPECT_NE(p, nullptr);
  alloc->deallocate(p, kMiB);
}

TEST_F(CachingAllocatorTest, OutOfMemoryReleasesCacheAndRetries) {
  auto alloc = make();
  alloc->set_memory_limit(21 * kMiB);
  void* small = alloc->allocate(kMiB);  // 2 MiB small segment
  alloc->deallocate(small, kMiB);       // cached
  // 5 MiB needs a 20 MiB segment: 2 + 20 > 21, so the cached small segment must be released first.
  void* large = alloc->allocate(5 * kMiB);
  EXPECT_NE(large, nullptr);
  EXPECT_EQ(alloc->n_segments(), 1);
  EXPECT_EQ(alloc->stats().reserved_bytes, static_cast<int64_t>(CachingAllocator::kLargeSegment));
  alloc->deallocate(large, 5 * kMiB);
}

TEST_F(CachingAllocatorTest, ConcurrentAllocationsKeepConsistentStatistics) {
  auto alloc = make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&alloc, t] {
      std::vector<std::pair<void*, size_t>> held;
      for (int i = 0; i < 500; ++i) {
        const size_t n = static_cast<size_t>((i * 7919 + t * 104729) % (3 * kMiB)) + 1;
        held.emplace_back(alloc->allocate(n), n);
        if (held.size() > 8) {
          alloc->deallocate(held.front().first, held.front().second);
          held.erase(held.begin());
        }
      }
      for (auto [p, n] : held) alloc->deallocate(p, n);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(alloc->stats().allocated_bytes, 0);
  EXPECT_EQ(alloc->cached_bytes(), alloc->stats().reserved_bytes);
  alloc->release_cached();
  EXPECT_EQ(alloc->stats().reserved_bytes, 0);
}

TEST_F(CachingAllocatorTest, ContextAllocatorBacksDeviceTensors) {
  Tensor t = Tensor::empty({1000}, DType::kF32, context().allocator());
  EXPECT_EQ(t.device(), cuda_device(0));
  ops::fill(stream(), t, 2.5);
  for (float v : values<float>(t)) ASSERT_EQ(v, 2.5f);
  const AllocatorStats s = context().allocator().stats();
  EXPECT_GE(s.allocated_bytes, 4000);
  EXPECT_GE(s.reserved_bytes, s.allocated_bytes);
}

TEST_F(CachingAllocatorTest, StreamsKeepTheirOwnBlocksAndCrossStreamBlocksWaitForTheirEvents) {
  auto on_compute = make();
  Stream side = context().create_stream();
  auto on_side = on_compute->for_stream(context().native_stream(side));
  void* p = on_compute->allocate(kMiB);
  on_compute->deallocate(p, kMiB);
  void* q = on_side->allocate(kMiB);
  EXPECT_NE(q, p);  // the compute stream's free block is not the side stream's
  EXPECT_EQ(on_compute->n_segments(), 2);
  on_side->deallocate(q, kMiB);

  // A compute-stream tensor read on the side stream: its block waits for the side stream's work.
  Tensor t = Tensor::empty({1 << 20}, DType::kF32, context().allocator());
  Tensor u = Tensor::empty({1 << 20}, DType::kF32, context().stream_allocator(side));
  ops::fill(stream(), t, 1.0);
  side.wait_for(stream());
  for (int i = 0; i < 50; ++i) ops::copy(side, t, u);  // keeps the side stream busy reading t
  record_stream(t, side);
  void* t_memory = t.data();
  t = Tensor();
  const int64_t waiting = static_cast<cuda::CachingAllocator&>(context().allocator()).n_waiting_blocks();
  side.synchronize();
  Tensor again = Tensor::empty({1 << 20}, DType::kF32, context().allocator());
  EXPECT_EQ(again.data(), t_memory);  // reusable once the side stream's reads have finished
  EXPECT_EQ(static_cast<cuda::CachingAllocator&>(context().allocator()).n_waiting_blocks(), 0);
  EXPECT_LE(waiting, 1);
  for (float v : values<float>(u)) ASSERT_EQ(v, 1.0f);
}

TEST_F(CachingAllocatorTest, AStreamWaitsForAnotherGpusEvent) {
  if (cuda_device_count() < 2) GTEST_SKIP() << "needs two GPUs";
  DeviceContext& other = device_context(cuda_device(1));
  Event done(context());
  Tensor t = Tensor::empty({1000}, DType::kF32, context().allocator());
  ops::fill(stream(), t, 3.0);
  done.record(stream());
  done.block(other.compute_stream());  // cudaStreamWaitEvent on GPU 1 for GPU 0's event
  other.compute_stream().synchronize();
  EXPECT_TRUE(done.ready());
}

}  // namespace
}  // namespace sprint
