// cpu_context.cpp: host copies and settings.
#include "sprint/runtime/cpu/cpu_context.h"

#include <chrono>
#include <cstring>

#include "sprint/core/error.h"

namespace sprint {

void CpuContext::copy_bytes(const Stream&, void* dst, const void* src, size_t n_bytes, CopyKind kind) {
  SPRINT_CHECK(kind == CopyKind::kHostToHost, "the CPU context only copies host to host");
  if (n_bytes) std::memmove(dst, src, n_bytes);
}

namespace {
struct CpuEvent {
  std::chrono::steady_clock::time_point when = std::chrono::steady_clock::now();
};
}  // namespace

void* CpuContext::event_create(bool) { return new CpuEvent(); }
void CpuContext::event_destroy(void* event) noexcept { delete static_cast<CpuEvent*>(event); }
void CpuContext::event_record(void* event, const Stream&) {
  static_cast<CpuEvent*>(event)->when = std::chrono::steady_clock::now();
}
float CpuContext::event_elapsed_ms(void* start, void* end) {
  const auto d = static_cast<CpuEvent*>(end)->when - static_cast<CpuEvent*>(start)->when;
  return std::chrono::duration<float, std::milli>(d).count();
}

void CpuContext::set_num_threads(int n) {
  SPRINT_CHECK(n >= 1, "number of CPU threads must be >= 1, got {}", n);
  num_threads_.store(n);
}

}  // namespace sprint
