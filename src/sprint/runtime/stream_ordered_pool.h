// stream_ordered_pool.h: StreamOrderedPool, the block cache behind a device's caching allocator, written against
// a small DeviceMemory interface (malloc/free, events, synchronisation) so that its policy is plain C++ that the
// CPU test suite exercises with a fake device. The CUDA caching allocator is this pool over cudaMalloc and
// cudaEvent_t.
//
// Policy:
//   - sizes round up to 512 B; requests <= 1 MiB come from 2 MiB "small" segments, larger ones from "large"
//     segments (20 MiB for requests < 10 MiB, otherwise the request rounded up to 2 MiB);
//   - every segment belongs to the stream it was first allocated for, and so do the blocks carved from it: a
//     free block is handed out again only to work on that same stream, where stream order makes the reuse safe
//     (best fit by size among that stream's free blocks; split when the remainder is worth keeping: >= 512 B
//     small, > 1 MiB large; neighbours merged again on free);
//   - a block that work on other streams used too (record_stream, PyTorch's recordStream) is not reusable when
//     the host frees it: an event is recorded on each of those streams, and the block returns to its stream's
//     pool once every event has completed (polled on later allocations). Frees during a graph capture of such a
//     stream are deferred until the capture has ended (an event recorded then would be a graph node);
//   - statistics: "allocated" = bytes of blocks not yet reusable (live or waiting for their events; block
//     sizes, so a large request handed a whole segment counts the segment), "reserved" = bytes of segments held;
//   - when the device has no room: wait for every stream, return every wholly free segment, retry once, then
//     throw OutOfMemory naming the request, the statistics and the device's total and free bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sprint/core/allocator.h"
#include "sprint/core/device.h"

namespace sprint {

/// What a StreamOrderedPool needs from its device. Streams and events are the device's native handles.
/// Every method is called with the pool's lock held, from any thread.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual Device device() const = 0;
  /// n_bytes of device memory (aligned to at least 256 bytes), or null when the device has no room. Other
  /// failures throw.
  virtual void* malloc(size_t n_bytes) = 0;
  virtual void free(void* ptr) noexcept = 0;
  /// An event marking the work queued on `stream` so far.
  virtual void* record_event(void* stream) = 0;
  /// True once the work before `event` has finished.
  virtual bool event_done(void* event) = 0;
  /// Gives an event from record_event back (for reuse or destruction).
  virtual void release_event(void* event) noexcept = 0;
  /// Blocks until every stream of the device is idle.
  virtual void synchronize() = 0;
  /// True while `stream` is being captured into a graph.
  virtual bool capturing(void* stream) = 0;
  /// Free and total bytes of the device, for the out-of-memory message (0, 0 when unknown).
  virtual void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept = 0;
};

class StreamOrderedPool {
 public:
  static constexpr size_t kMinBlock = 512;                   ///< allocation granularity
  static constexpr size_t kSmallRequest = size_t{1} << 20;   ///< <= this: small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;   ///< segment size of the small pool
  static constexpr size_t kLargeSegment = size_t{20} << 20;  ///< segment size for large requests < 10 MiB
  static constexpr size_t kLargeRound = size_t{2} << 20;     ///< rounding of segments for requests >= 10 MiB

  explicit StreamOrderedPool(std::unique_ptr<DeviceMemory> memory);
  /// Waits for the device and frees every segment (warns when blocks are still handed out).
  ~StreamOrderedPool();
  StreamOrderedPool(const StreamOrderedPool&) = delete;
  StreamOrderedPool& operator=(const StreamOrderedPool&) = delete;

  Device device() const;
  /// A block of at least n_bytes for work queued on `stream`; throws OutOfMemory.
  void* allocate(size_t n_bytes, void* stream);
  /// Takes back a block from allocate(); it becomes reusable on its stream once the work that other streams
  /// recorded on it has finished. Pointers this pool did not hand out are reported and ignored.
  void deallocate(void* ptr) noexcept;
  /// Work queued on `stream` uses the block at `ptr` (any address inside it): its reuse waits for that work.
  /// No-op for the block's own stream; throws for a pointer this pool did not hand out.
  void record_stream(void* ptr, void* stream);

  AllocatorStats stats() const;
  void reset_peak_stats();
  /// Waits for the device, then returns every wholly free segment to it (not while a stream captures a graph).
  void release_cached();
  /// Bytes held in free cached blocks (reserved - allocated).
  int64_t cached_bytes() const;
  int64_t n_segments() const;
  /// Blocks freed by the host that still wait for other streams' work (or for a capture to end).
  int64_t n_waiting_blocks() const;
  /// Caps the bytes this pool may reserve (0 = no cap); exceeding it behaves like the device running out.
  void set_memory_limit(size_t n_bytes);
  /// The size a request is rounded to.
  static size_t round_size(size_t n_bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sprint
