// caching_allocator.cpp: segments from cudaMalloc, carved into blocks kept in two best-fit pools
// (small/large).
//
// Data structures (all guarded by one mutex):
//   Block     one contiguous range of a segment; blocks of a segment form a doubly linked list in address
//   order
//             (prev/next), so freeing can merge with free neighbours. The first block of a segment (prev ==
//             null) is never deleted while the segment exists: merges always keep the lower-address block
//             object.
//   free_     per pool, free blocks ordered by (size, address): lower_bound(size) is the best fit.
//   live_     address -> block for blocks handed out.
//   heads_    first blocks of all segments (to release or destroy them).
#include "sprint/runtime/cuda/caching_allocator.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/runtime/cuda/cuda_check.h"

namespace sprint::cuda {
namespace {

struct Block {
  char* ptr = nullptr;
  size_t size = 0;
  bool allocated = false;
  bool small = false;
  Block* prev = nullptr;  // neighbour at lower address in the same segment
  Block* next = nullptr;  // neighbour at higher address in the same segment
};

struct BySizeThenAddress {
  bool operator()(const Block* a, const Block* b) const {
    if (a->size != b->size) return a->size < b->size;
    return a->ptr < b->ptr;
  }
};

constexpr size_t kLargeSegmentThreshold = size_t{10} << 20;  // requests below this share 20 MiB segments

size_t round_up(size_t n, size_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

}  // namespace

struct CachingAllocator::Impl {
  int device_index = 0;
  cudaStream_t stream = nullptr;
  size_t total_memory = 0;

  mutable std::mutex mutex;
  std::set<Block*, BySizeThenAddress> free_small, free_large;
  std::unordered_map<void*, Block*> live;
  std::unordered_set<Block*> heads;
  int64_t reserved = 0;  // mirrors counters' reserved bytes, for the limit check under the mutex
  size_t limit = 0;
  AllocatorCounters counters;

  std::set<Block*, BySizeThenAddress>& pool(bool small) { return small ? free_small : free_large; }

  static size_t segment_size(size_t rounded) {
    if (rounded <= kSmallRequest) return kSmallSegment;
    if (rounded < kLargeSegmentThreshold) return kLargeSegment;
    return round_up(rounded, kLargeRound);
  }

  // Best-fit free block of at least `size` in the pool, removed from the pool; null when none.
  Block* take_free(size_t size, bool small) {
    auto& p = pool(small);
    Block key;
    key.size = size;
    key.ptr = nullptr;
    auto it = p.lower_bound(&key);
    if (it == p.end()) return nullptr;
    Block* b = *it;
    p.erase(it);
    return b;
  }

  // cudaMalloc of one segment; null when the device (or the limit) has no room. Other errors throw.
  char* malloc_segment(size_t size) {
    if (limit != 0 && static_cast<size_t>(reserved) + size > limit) return nullptr;
    DeviceGuard device(device_index);
    void* ptr = nullptr;
    cudaError_t status;
    {
      RelaxedCaptureModeGuard relaxed;
      status = cudaMalloc(&ptr, size);
    }
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    SPRINT_CUDA_CHECK(status);
    return static_cast<char*>(ptr);
  }

  bool capturing() const {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream, &status) != cudaSuccess) {
      (void)cudaGetLastError();
      return true;  // be conservative: do not synchronise
    }
    return status != cudaStreamCaptureStatusNone;
  }

  // Frees every segment that is one free block. Returns the bytes released. Caller holds the mutex.
  int64_t release_cached_locked() {
    std::vector<Block*> victims;
    for (auto* p : {&free_small, &free_large})
      for (Block* b : *p)
        if (b->prev == nullptr && b->next == nullptr) victims.push_back(b);
    if (victims.empty()) return 0;
    if (capturing()) {
      log_warn("cuda:{}: not releasing cached memory while the compute stream captures a CUDA graph",
               device_index);
      return 0;
    }
    DeviceGuard device(device_index);
    // Blocks in the cache may still be used by queued kernels (stream-ordered reuse): wait for them.
    SPRINT_CUDA_CHECK(cudaDeviceSynchronize());
    int64_t released = 0;
    for (Block* b : victims) {
      pool(b->small).erase(b);
      heads.erase(b);
      SPRINT_CUDA_CHECK(cudaFree(b->ptr));
      reserved -= static_cast<int64_t>(b->size);
      counters.on_deallocate(0, static_cast<int64_t>(b->size));
      released += static_cast<int64_t>(b->size);
      delete b;
    }
    return released;
  }

  [[noreturn]] void throw_out_of_memory(size_t requested) const {
    const AllocatorStats s = counters.snapshot();
    size_t free_bytes = 0, total_bytes = total_memory;
    {
      DeviceGuard device(device_index);
      if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        free_bytes = 0;
        total_bytes = total_memory;
      }
    }
    const std::string limit_note =
        limit != 0 ? fmt::format(" (sprint memory limit {})", format_bytes(static_cast<int64_t>(limit))) : "";
    SPRINT_THROW(
        OutOfMemory,
        "CUDA out of memory on cuda:{}: tried to allocate {}; {} allocated, {} reserved, {} total{}; {} free "
        "on the device. Reduce the batch size or the model, or free tensors that are no longer needed.",
        device_index,
        format_bytes(static_cast<int64_t>(std::min<size_t>(requested, std::numeric_limits<int64_t>::max()))),
        format_bytes(s.allocated_bytes), format_bytes(s.reserved_bytes),
        format_bytes(static_cast<int64_t>(total_bytes)), limit_note,
        format_bytes(static_cast<int64_t>(free_bytes)));
  }
};

CachingAllocator::CachingAllocator(int device_index, void* stream) : impl_(std::make_unique<Impl>()) {
  impl_->device_index = device_index;
  impl_->stream = static_cast<cudaStream_t>(stream);
  DeviceGuard device(device_index);
  size_t free_bytes = 0, total_bytes = 0;
  SPRINT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  impl_->total_memory = total_bytes;
}

CachingAllocator::~CachingAllocator() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  if (m.heads.empty()) return;
  const int live = static_cast<int>(m.live.size());
  if (live > 0)
    log_warn("cuda:{}: {} device blocks still in use when the allocator was destroyed", m.device_index, live);
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  (void)cudaSetDevice(m.device_index);
  (void)cudaDeviceSynchronize();
  for (Block* head : m.heads) {
    (void)cudaFree(head->ptr);
    for (Block* b = head; b != nullptr;) {
      Block* next = b->next;
      delete b;
      b = next;
    }
  }
  if (previous >= 0) (void)cudaSetDevice(previous);
  (void)cudaGetLastError();
}

Device CachingAllocator::device() const {
  return cuda_device(impl_->device_index);
}

size_t CachingAllocator::round_size(size_t n_bytes) {
  if (n_bytes == 0) return kMinBlock;
  return round_up(n_bytes, kMinBlock);
}

void* CachingAllocator::allocate(size_t n_bytes) {
  Impl& m = *impl_;
  // Requests this large cannot be rounded without overflow and can never succeed.
  if (n_bytes > std::numeric_limits<size_t>::max() / 4) m.throw_out_of_memory(n_bytes);
  const size_t size = round_size(n_bytes);
  const bool small = size <= kSmallRequest;

  std::lock_guard<std::mutex> lock(m.mutex);
  bool from_system = false;
  int64_t reserved_delta = 0;
  Block* block = m.take_free(size, small);
  if (block == nullptr) {
    const size_t seg = Impl::segment_size(size);
    char* ptr = m.malloc_segment(seg);
    if (ptr == nullptr) {
      // Cached free segments of either pool may be what stands in the way: return them to CUDA, retry once.
      if (m.release_cached_locked() > 0) ptr = m.malloc_segment(seg);
    }
    if (ptr == nullptr) m.throw_out_of_memory(n_bytes);
    block = new Block();
    block->ptr = ptr;
    block->size = seg;
    block->small = small;
    m.heads.insert(block);
    m.reserved += static_cast<int64_t>(seg);
    from_system = true;
    reserved_delta = static_cast<int64_t>(seg);
  }
  // Split off the remainder when it is worth keeping as a separate free block.
  const size_t remaining = block->size - size;
  if (small ? remaining >= kMinBlock : remaining > kSmallRequest) {
    Block* rest = new Block();
    rest->ptr = block->ptr + size;
    rest->size = remaining;
    rest->small = block->small;
    rest->prev = block;
    rest->next = block->next;
    if (block->next) block->next->prev = rest;
    block->next = rest;
    block->size = size;
    m.pool(rest->small).insert(rest);
  }
  block->allocated = true;
  m.live.emplace(block->ptr, block);
  m.counters.on_allocate(static_cast<int64_t>(block->size), from_system, reserved_delta);
  return block->ptr;
}

void CachingAllocator::deallocate(void* ptr, size_t n_bytes) noexcept {
  if (ptr == nullptr) return;
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.live.find(ptr);
  if (it == m.live.end()) {
    log_message(LogLevel::kError,
                fmt::format("cuda:{}: deallocate of {} ({} bytes) that this allocator did not hand out",
                            m.device_index, ptr, n_bytes));
    return;
  }
  Block* block = it->second;
  m.live.erase(it);
  block->allocated = false;
  m.counters.on_deallocate(static_cast<int64_t>(block->size), 0);
  auto& pool = m.pool(block->small);
  // Merge with the lower neighbour (keeps the lower block object, so segment heads survive).
  if (Block* prev = block->prev; prev != nullptr && !prev->allocated) {
    pool.erase(prev);
    prev->size += block->size;
    prev->next = block->next;
    if (block->next) block->next->prev = prev;
    delete block;
    block = prev;
  }
  // Merge with the upper neighbour.
  if (Block* next = block->next; next != nullptr && !next->allocated) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->prev = block;
    delete next;
  }
  pool.insert(block);
}

AllocatorStats CachingAllocator::stats() const {
  return impl_->counters.snapshot();
}

void CachingAllocator::reset_peak_stats() {
  impl_->counters.reset_peaks();
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->release_cached_locked();
}

int64_t CachingAllocator::cached_bytes() const {
  const AllocatorStats s = impl_->counters.snapshot();
  return s.reserved_bytes - s.allocated_bytes;
}

int64_t CachingAllocator::n_segments() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<int64_t>(impl_->heads.size());
}

void CachingAllocator::set_memory_limit(size_t n_bytes) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->limit = n_bytes;
}

}  // namespace sprint::cuda
