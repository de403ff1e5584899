// cpu_common.cpp: context lookup and thread-count synchronisation for OpenBLAS and OpenMP.
#include "sprint/backend/cpu/cpu_common.h"

#include <atomic>

#include <cblas.h>
#include <omp.h>

namespace sprint::cpu {

CpuContext& context_of(const Stream& stream) {
  SPRINT_CHECK(stream.device().is_cpu(), "CPU op called with a {} stream", device_name(stream.device()));
  return static_cast<CpuContext&>(stream.context());
}

int sync_threads(const Stream& stream) {
  static std::atomic<int> applied{0};
  const int wanted = context_of(stream).num_threads();
  if (applied.load(std::memory_order_relaxed) != wanted) {
    openblas_set_num_threads(wanted);
    omp_set_num_threads(wanted);
    applied.store(wanted);
  }
  return wanted;
}

}  // namespace sprint::cpu
