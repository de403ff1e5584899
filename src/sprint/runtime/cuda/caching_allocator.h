// caching_allocator.h: CachingAllocator, the device-memory allocator of a CudaContext: a StreamOrderedPool
// (stream_ordered_pool.h: segments, per-stream best-fit blocks, events for blocks other streams used) over
// cudaMalloc and cudaEvent_t, so that steady-state training steps never call cudaMalloc/cudaFree.
// Plain C++ (no CUDA types) so that tests and tools can read its statistics.
//
// Stream semantics: each CachingAllocator object allocates for one stream (the compute stream for the
// context's allocator(), another stream for the objects for_stream() makes; they share one pool and one set of
// statistics). A block freed on the host is handed out again at once, but only for work queued later on the
// stream it was allocated for. A tensor that work on another stream also uses is marked with
// record_stream(tensor, stream) (runtime/stream.h); its block is reused once that stream's work queued before
// the release has finished.
//
// CUDA graphs: cudaMalloc runs in relaxed capture mode, so a first-time allocation inside a capture does not
// break it; tensors used by a captured graph must stay alive as long as the graph is replayed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sprint/core/allocator.h"
#include "sprint/runtime/stream_ordered_pool.h"

namespace sprint::cuda {

class CachingAllocator final : public Allocator {
 public:
  static constexpr size_t kMinBlock = StreamOrderedPool::kMinBlock;
  static constexpr size_t kSmallRequest = StreamOrderedPool::kSmallRequest;
  static constexpr size_t kSmallSegment = StreamOrderedPool::kSmallSegment;
  static constexpr size_t kLargeSegment = StreamOrderedPool::kLargeSegment;
  static constexpr size_t kLargeRound = StreamOrderedPool::kLargeRound;

  /// A new pool on GPU `device_index`, allocating for `stream` (a cudaStream_t: the context's compute stream).
  CachingAllocator(int device_index, void* stream);
  ~CachingAllocator() override;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// An allocator over the same pool that allocates for `stream` (another stream of the same GPU).
  std::unique_ptr<CachingAllocator> for_stream(void* stream) const;

  Device device() const override;
  /// Device memory aligned to at least 256 bytes (cudaMalloc's guarantee; blocks are multiples of 512 B from
  /// a segment base), which is what cuBLASLt and 128-bit vector loads want.
  void* allocate(size_t n_bytes) override;
  void deallocate(void* ptr, size_t n_bytes) noexcept override;
  void record_stream(void* ptr, void* native_stream) override;
  AllocatorStats stats() const override;
  void reset_peak_stats() override;
  /// Synchronises the device and returns every fully cached segment to CUDA (not during graph capture).
  void release_cached() override;

  /// Bytes held in free cached blocks (reserved - allocated).
  int64_t cached_bytes() const;
  /// Number of segments currently held from cudaMalloc.
  int64_t n_segments() const;
  /// Blocks released by the host that still wait for other streams' work.
  int64_t n_waiting_blocks() const;
  /// Caps the bytes this allocator may reserve (0 = no cap, the default); exceeding it behaves like
  /// cudaMalloc running out of memory. For tests and for sharing a GPU between processes.
  void set_memory_limit(size_t n_bytes);
  /// The size a request is rounded to.
  static size_t round_size(size_t n_bytes) { return StreamOrderedPool::round_size(n_bytes); }

 private:
  CachingAllocator(std::shared_ptr<StreamOrderedPool> pool, void* stream);

  std::shared_ptr<StreamOrderedPool> pool_;
  void* stream_;
};

}  // namespace sprint::cuda
