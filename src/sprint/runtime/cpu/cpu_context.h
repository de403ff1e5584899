// cpu_context.h: the host DeviceContext. Work runs synchronously on the calling thread; the "streams" are
// null handles. It carries the CPU settings the backend reads: number of compute threads and whether to use the
// plain reference loops instead of oneDNN/OpenBLAS (for debugging and for parity tests).
#pragma once

#include <atomic>

#include "sprint/runtime/device_context.h"

namespace sprint {

/// Which code runs f32 matrix products on the CPU. oneDNN's sgemm is JIT-compiled for the running CPU
/// (AVX-512 where present); Debian's OpenBLAS 0.3.21 falls back to its AVX2 kernels on CPUs newer than it
/// knows (Zen 4/5): 2x slower there (docs/benchmarks.md). kSprint is sprint's own AVX2 + FMA kernel
/// (backend/cpu/sgemm_avx2.cpp; oneDNN where the CPU lacks those instructions): on Zen 3 not faster than oneDNN's
/// on the MLP yet (docs/benchmarks.md), so not the default. OpenBLAS and kSprint stay available for comparison.
enum class CpuGemm { kOneDnn, kOpenBlas, kSprint };

/// The allocator of a logical host device cpu:N (core/device.h): host memory from cpu_allocator() (one pool, its
/// statistics), handed out as memory of cpu:N.
class LogicalHostAllocator final : public Allocator {
 public:
  explicit LogicalHostAllocator(Device device) : device_(device) {}
  Device device() const override { return device_; }
  void* allocate(size_t n_bytes) override { return cpu_allocator().allocate(n_bytes); }
  void deallocate(void* ptr, size_t n_bytes) noexcept override { cpu_allocator().deallocate(ptr, n_bytes); }
  AllocatorStats stats() const override { return cpu_allocator().stats(); }
  void reset_peak_stats() override { cpu_allocator().reset_peak_stats(); }

 private:
  Device device_;
};

/// The context of cpu (index 0) or of a logical host device cpu:N. The settings below are the host's: every
/// CPU context shares them.
class CpuContext final : public DeviceContext {
 public:
  explicit CpuContext(int index = 0) : index_(index), logical_allocator_(Device{DeviceType::kCPU, index}) {}
  ~CpuContext() override { destroy_extensions(); }

  Device device() const override { return Device{DeviceType::kCPU, index_}; }
  Allocator& allocator() override {
    return index_ == 0 ? static_cast<Allocator&>(cpu_allocator()) : logical_allocator_;
  }
  Allocator& host_allocator() override { return cpu_allocator(); }
  Stream compute_stream() override { return Stream(this, nullptr); }
  Stream copy_stream() override { return Stream(this, nullptr); }
  void synchronize(const Stream&) override {}
  void stream_wait(const Stream&, const Stream&) override {}
  void copy_bytes(const Stream& stream, void* dst, const void* src, size_t n_bytes, CopyKind kind) override;
  // CPU events hold the host time at which they were recorded (work is synchronous).
  void* event_create(bool timing) override;
  void event_destroy(void* event) noexcept override;
  void event_record(void* event, const Stream& stream) override;
  void event_block(void*, const Stream&) override {}
  void event_synchronize(void*) override {}
  bool event_ready(void*) override { return true; }
  float event_elapsed_ms(void* start, void* end) override;

  /// Threads used by one op (oneDNN/OpenMP and OpenBLAS); >= 1. Default 1: on small ops threads cost more
  /// than they give (see docs/benchmarks.md).
  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  void set_num_threads(int n);
  /// When true, every CPU op runs its reference loop (the oracle) instead of the fast path.
  bool reference_only() const { return reference_only_.load(std::memory_order_relaxed); }
  void set_reference_only(bool on) { reference_only_.store(on); }
  /// The code behind f32 GEMMs (default oneDNN).
  CpuGemm gemm() const { return gemm_.load(std::memory_order_relaxed); }
  void set_gemm(CpuGemm g) { gemm_.store(g); }

 private:
  int index_;
  LogicalHostAllocator logical_allocator_;
  static inline std::atomic<int> num_threads_{1};
  static inline std::atomic<bool> reference_only_{false};
  static inline std::atomic<CpuGemm> gemm_{CpuGemm::kOneDnn};
};

}  // namespace sprint
