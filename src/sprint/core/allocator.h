// allocator.h: the Allocator interface (one per device context) and the host allocator with statistics.
// Statistics follow PyTorch's vocabulary: "allocated" = bytes in live tensors, "reserved" = bytes held from the
// system (equal to allocated for the host allocator; larger for caching device allocators). Peaks of both.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sprint/core/device.h"

namespace sprint {

struct AllocatorStats {
  int64_t allocated_bytes = 0;       ///< bytes currently handed out
  int64_t peak_allocated_bytes = 0;  ///< maximum of allocated_bytes since the last reset
  int64_t reserved_bytes = 0;        ///< bytes currently held from the system (>= allocated)
  int64_t peak_reserved_bytes = 0;   ///< maximum of reserved_bytes since the last reset
  int64_t n_allocations = 0;         ///< number of allocate() calls
  int64_t n_system_allocations = 0;  ///< number of allocations that went to the system (malloc / cudaMalloc)
};

/// Contract: allocate() returns memory aligned to at least 64 bytes on device(), or throws OutOfMemory with
/// the requested size and current statistics. deallocate() takes exactly what allocate() returned (and its size).
/// Thread safety: every method may be called from any thread.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Device device() const = 0;
  virtual void* allocate(size_t n_bytes) = 0;
  virtual void deallocate(void* ptr, size_t n_bytes) noexcept = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak_stats() = 0;
  /// Returns cached memory to the system where the allocator caches (no-op otherwise).
  virtual void release_cached() {}
  /// Stream-ordered allocators (CUDA) reuse a freed block at once for later work on the stream it was allocated
  /// for. This says that work queued on `native_stream` (another stream of the device) uses the block `ptr` that
  /// allocate() returned, so that its reuse also waits for that work. No-op where memory is not stream-ordered.
  virtual void record_stream(void* ptr, void* native_stream) {
    (void)ptr;
    (void)native_stream;
  }
};

/// Counters shared by allocator implementations (lock-free).
class AllocatorCounters {
 public:
  void on_allocate(int64_t n_bytes, bool from_system, int64_t reserved_delta);
  void on_deallocate(int64_t n_bytes, int64_t reserved_delta);
  AllocatorStats snapshot() const;
  void reset_peaks();

 private:
  std::atomic<int64_t> allocated_{0}, peak_allocated_{0}, reserved_{0}, peak_reserved_{0};
  std::atomic<int64_t> n_allocations_{0}, n_system_allocations_{0};
};

/// Host memory: 64-byte aligned, zero caching, with statistics. One per process (host memory is one pool).
class CpuAllocator final : public Allocator {
 public:
  Device device() const override { return kCPU; }
  void* allocate(size_t n_bytes) override;
  void deallocate(void* ptr, size_t n_bytes) noexcept override;
  AllocatorStats stats() const override { return counters_.snapshot(); }
  void reset_peak_stats() override { counters_.reset_peaks(); }

 private:
  AllocatorCounters counters_;
};

/// The process-wide host allocator.
CpuAllocator& cpu_allocator();

/// "1.5 MiB", "362.0 MiB"
std::string format_bytes(int64_t n_bytes);

}  // namespace sprint
