// pinned_allocator.cpp: cudaHostAlloc'd blocks cached in power-of-two size classes.
#include "sprint/runtime/cuda/pinned_allocator.h"

#include <cuda_runtime_api.h>

#include <bit>
#include <limits>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/runtime/cuda/cuda_check.h"

namespace sprint::cuda {

struct PinnedAllocator::Impl {
  int device_index = 0;
  mutable std::mutex mutex;
  std::map<size_t, std::vector<void*>> free_by_size;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live;             // block -> size class
  int64_t cached = 0;
  AllocatorCounters counters;

  void* host_alloc(size_t size) {
    DeviceGuard device(device_index);
    void* ptr = nullptr;
    cudaError_t status;
    {
      RelaxedCaptureModeGuard relaxed;
      status = cudaHostAlloc(&ptr, size, cudaHostAllocPortable);
    }
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    SPRINT_CUDA_CHECK(status);
    return ptr;
  }

  int64_t release_locked() {
    int64_t released = 0;
    for (auto& [size, blocks] : free_by_size) {
      while (!blocks.empty()) {
        void* p = blocks.back();
        blocks.pop_back();
        cached -= static_cast<int64_t>(size);
        counters.on_deallocate(0, static_cast<int64_t>(size));
        released += static_cast<int64_t>(size);
        SPRINT_CUDA_CHECK(cudaFreeHost(p));
      }
    }
    free_by_size.clear();
    return released;
  }
};

PinnedAllocator::PinnedAllocator(int device_index) : impl_(std::make_unique<Impl>()) {
  impl_->device_index = device_index;
}

PinnedAllocator::~PinnedAllocator() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  for (auto& [size, blocks] : m.free_by_size)
    for (void* p : blocks) (void)cudaFreeHost(p);
  // Live blocks belong to tensors that outlive the context; leave them (freeing would make them dangle).
  if (!m.live.empty())
    log_warn("cuda:{}: {} pinned host blocks still in use when the allocator was destroyed", m.device_index,
             m.live.size());
  (void)cudaGetLastError();
}

size_t PinnedAllocator::round_size(size_t n_bytes) {
  if (n_bytes <= kMinBlock) return kMinBlock;
  return std::bit_ceil(n_bytes);
}

void* PinnedAllocator::allocate(size_t n_bytes) {
  Impl& m = *impl_;
  if (n_bytes > (std::numeric_limits<size_t>::max() >> 2)) {
    SPRINT_THROW(OutOfMemory, "pinned host out of memory: tried to allocate {} bytes", n_bytes);
  }
  const size_t size = round_size(n_bytes);
  std::lock_guard<std::mutex> lock(m.mutex);
  void* ptr = nullptr;
  bool from_system = false;
  if (auto it = m.free_by_size.find(size); it != m.free_by_size.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    m.cached -= static_cast<int64_t>(size);
  } else {
    ptr = m.host_alloc(size);
    if (ptr == nullptr && m.release_locked() > 0) ptr = m.host_alloc(size);
    if (ptr == nullptr) {
      const AllocatorStats s = m.counters.snapshot();
      SPRINT_THROW(
          OutOfMemory,
          "pinned host out of memory (cudaHostAlloc): tried to allocate {}; {} allocated, {} reserved. "
          "Lower the data loader's prefetch depth or the batch size.",
          format_bytes(static_cast<int64_t>(n_bytes)), format_bytes(s.allocated_bytes),
          format_bytes(s.reserved_bytes));
    }
    from_system = true;
  }
  m.live.emplace(ptr, size);
  m.counters.on_allocate(static_cast<int64_t>(size), from_system,
                         from_system ? static_cast<int64_t>(size) : 0);
  return ptr;
}

void PinnedAllocator::deallocate(void* ptr, size_t n_bytes) noexcept {
  if (ptr == nullptr) return;
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  auto it = m.live.find(ptr);
  if (it == m.live.end()) {
    log_message(
        LogLevel::kError,
        fmt::format("pinned deallocate of {} ({} bytes) that this allocator did not hand out", ptr, n_bytes));
    return;
  }
  const size_t size = it->second;
  m.live.erase(it);
  try {
    m.free_by_size[size].push_back(ptr);
    m.cached += static_cast<int64_t>(size);
    m.counters.on_deallocate(static_cast<int64_t>(size), 0);
  } catch (...) {  // bad_alloc growing the free list: give the block back instead
    (void)cudaFreeHost(ptr);
    m.counters.on_deallocate(static_cast<int64_t>(size), static_cast<int64_t>(size));
  }
}

AllocatorStats PinnedAllocator::stats() const {
  return impl_->counters.snapshot();
}

void PinnedAllocator::reset_peak_stats() {
  impl_->counters.reset_peaks();
}

void PinnedAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->release_locked();
}

int64_t PinnedAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->cached;
}

}  // namespace sprint::cuda
