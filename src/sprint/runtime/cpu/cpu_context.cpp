// cpu_context.cpp: host copies and settings.
#include "sprint/runtime/cpu/cpu_context.h"

#include <cstring>

#include "sprint/core/error.h"

namespace sprint {

void CpuContext::copy_bytes(const Stream&, void* dst, const void* src, size_t n_bytes, CopyKind kind) {
  SPRINT_CHECK(kind == CopyKind::kHostToHost, "the CPU context only copies host to host");
  if (n_bytes) std::memmove(dst, src, n_bytes);
}

void CpuContext::set_num_threads(int n) {
  SPRINT_CHECK(n >= 1, "number of CPU threads must be >= 1, got {}", n);
  num_threads_.store(n);
}

}  // namespace sprint
