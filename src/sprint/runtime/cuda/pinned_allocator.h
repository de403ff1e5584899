// pinned_allocator.h: PinnedAllocator, page-locked host memory (cudaHostAlloc) with a size-class cache. Host
// tensors that take part in asynchronous host<->device copies (data-loader batches, to_host staging) come
// from here: copies from pinned memory run at full PCIe/NVLink speed and truly overlap compute. Plain C++ (no
// CUDA types). device() is kCPU: these are host tensors.
//
// Policy: requests round up to a power of two (at least 512 B); freed blocks are cached per size class and
// reused; release_cached() returns them to CUDA; on cudaHostAlloc failure the cache is released and the call
// is retried once before OutOfMemory is thrown. Stream semantics: the allocator does not track streams.
// Release a pinned tensor only after the copies that use it have completed (synchronise the stream or an
// event recorded after the copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sprint/core/allocator.h"

namespace sprint::cuda {

class PinnedAllocator final : public Allocator {
 public:
  static constexpr size_t kMinBlock = 512;

  /// `device_index`: the device made current while allocating (the memory is portable to all devices).
  explicit PinnedAllocator(int device_index);
  ~PinnedAllocator() override;
  PinnedAllocator(const PinnedAllocator&) = delete;
  PinnedAllocator& operator=(const PinnedAllocator&) = delete;

  Device device() const override { return kCPU; }
  void* allocate(size_t n_bytes) override;
  void deallocate(void* ptr, size_t n_bytes) noexcept override;
  AllocatorStats stats() const override;
  void reset_peak_stats() override;
  void release_cached() override;

  /// Bytes held in free cached blocks.
  int64_t cached_bytes() const;
  /// The size class of a request.
  static size_t round_size(size_t n_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sprint::cuda
