// allocator.cpp: statistics counters and the aligned host allocator.
#include "sprint/core/allocator.h"

#include <cstdlib>
#include <new>
#include <string>

#include "sprint/core/error.h"

namespace sprint {
namespace {
void update_peak(std::atomic<int64_t>& peak, int64_t value) {
  int64_t seen = peak.load(std::memory_order_relaxed);
  while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}
}  // namespace

void AllocatorCounters::on_allocate(int64_t n_bytes, bool from_system, int64_t reserved_delta) {
  n_allocations_.fetch_add(1, std::memory_order_relaxed);
  if (from_system) n_system_allocations_.fetch_add(1, std::memory_order_relaxed);
  update_peak(peak_allocated_, allocated_.fetch_add(n_bytes, std::memory_order_relaxed) + n_bytes);
  if (reserved_delta) update_peak(peak_reserved_, reserved_.fetch_add(reserved_delta) + reserved_delta);
}

void AllocatorCounters::on_deallocate(int64_t n_bytes, int64_t reserved_delta) {
  allocated_.fetch_sub(n_bytes, std::memory_order_relaxed);
  if (reserved_delta) reserved_.fetch_sub(reserved_delta, std::memory_order_relaxed);
}

AllocatorStats AllocatorCounters::snapshot() const {
  AllocatorStats s;
  s.allocated_bytes = allocated_.load();
  s.peak_allocated_bytes = peak_allocated_.load();
  s.reserved_bytes = reserved_.load();
  s.peak_reserved_bytes = peak_reserved_.load();
  s.n_allocations = n_allocations_.load();
  s.n_system_allocations = n_system_allocations_.load();
  return s;
}

void AllocatorCounters::reset_peaks() {
  peak_allocated_.store(allocated_.load());
  peak_reserved_.store(reserved_.load());
}

void* CpuAllocator::allocate(size_t n_bytes) {
  constexpr size_t kAlign = 64;
  const size_t rounded = ((n_bytes ? n_bytes : 1) + kAlign - 1) / kAlign * kAlign;
  void* ptr = std::aligned_alloc(kAlign, rounded);
  if (!ptr) {
    const AllocatorStats s = counters_.snapshot();
    SPRINT_THROW(OutOfMemory, "host out of memory: tried to allocate {} with {} already allocated",
                 format_bytes(static_cast<int64_t>(n_bytes)), format_bytes(s.allocated_bytes));
  }
  counters_.on_allocate(static_cast<int64_t>(n_bytes), true, static_cast<int64_t>(n_bytes));
  return ptr;
}

void CpuAllocator::deallocate(void* ptr, size_t n_bytes) noexcept {
  if (!ptr) return;
  std::free(ptr);
  counters_.on_deallocate(static_cast<int64_t>(n_bytes), static_cast<int64_t>(n_bytes));
}

CpuAllocator& cpu_allocator() {
  static CpuAllocator allocator;
  return allocator;
}

std::string format_bytes(int64_t n_bytes) {
  const double b = static_cast<double>(n_bytes);
  if (n_bytes < 1024) return fmt::format("{} B", n_bytes);
  if (n_bytes < (int64_t{1} << 20)) return fmt::format("{:.1f} KiB", b / 1024.0);
  if (n_bytes < (int64_t{1} << 30)) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024.0));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace sprint
