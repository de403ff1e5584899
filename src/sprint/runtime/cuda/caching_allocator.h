// caching_allocator.h: CachingAllocator, the device-memory allocator of a CudaContext. It keeps cudaMalloc'd
// segments and hands out sub-blocks, so that steady-state training steps never call cudaMalloc/cudaFree.
// Plain C++ (no CUDA types) so that tests and tools can read its statistics.
//
// Policy (see caching_allocator.cpp for the details):
//   - sizes round up to 512 B; requests <= 1 MiB come from 2 MiB "small" segments, larger ones from "large"
//     segments (20 MiB for requests < 10 MiB, otherwise the request rounded up to 2 MiB);
//   - best fit among free cached blocks of the pool, split when the remainder is worth keeping (>= 512 B
//   small,
//     > 1 MiB large), neighbours merged again on free;
//   - statistics: "allocated" = bytes of live blocks (block sizes, so a large request handed a whole segment
//     counts the segment), "reserved" = bytes of segments held, with peaks;
//   - on cudaMalloc failure: synchronise, free every fully cached segment, retry once, then throw OutOfMemory
//     "CUDA out of memory on cuda:0: tried to allocate 1.20 GiB; 3.40 GiB allocated, 3.60 GiB reserved, 80.00
//     GiB total".
//
// Stream semantics: memory is stream-ordered on ONE stream, the context's compute stream. A block freed on
// the host may be handed out again at once, for work queued later on the compute stream. A tensor whose last
// use was queued on another stream (the copy stream, a side stream) must have that work joined into the
// compute stream (Event::block, Stream::wait_for) before the tensor is released.
//
// CUDA graphs: cudaMalloc runs in relaxed capture mode, so a first-time allocation inside a capture does not
// break it; tensors used by a captured graph must stay alive as long as the graph is replayed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sprint/core/allocator.h"

namespace sprint::cuda {

class CachingAllocator final : public Allocator {
 public:
  static constexpr size_t kMinBlock = 512;                   ///< allocation granularity
  static constexpr size_t kSmallRequest = size_t{1} << 20;   ///< <= this: small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;   ///< segment size of the small pool
  static constexpr size_t kLargeSegment = size_t{20} << 20;  ///< segment size for large requests < 10 MiB
  static constexpr size_t kLargeRound = size_t{2} << 20;     ///< rounding of segments for requests >= 10 MiB

  /// `stream` is the cudaStream_t allocations are ordered on (the context's compute stream).
  CachingAllocator(int device_index, void* stream);
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  Device device() const override;
  /// Device memory aligned to at least 256 bytes (cudaMalloc's guarantee; blocks are multiples of 512 B from
  /// a segment base), which is what cuBLASLt and 128-bit vector loads want.
  void* allocate(size_t n_bytes) override;
  void deallocate(void* ptr, size_t n_bytes) noexcept override;
  AllocatorStats stats() const override;
  void reset_peak_stats() override;
  /// Synchronises the device and returns every fully cached segment to CUDA (never call during graph
  /// capture).
  void release_cached() override;

  /// Bytes held in free cached blocks (reserved - allocated).
  int64_t cached_bytes() const;
  /// Number of segments currently held from cudaMalloc.
  int64_t n_segments() const;
  /// Caps the bytes this allocator may reserve (0 = no cap, the default); exceeding it behaves like
  /// cudaMalloc running out of memory. For tests and for sharing a GPU between processes.
  void set_memory_limit(size_t n_bytes);
  /// The size a request is rounded to.
  static size_t round_size(size_t n_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sprint::cuda
