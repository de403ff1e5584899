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

namespace {
// OpenMP's thread count (the nthreads-var ICV, which oneDNN reads) belongs to the calling thread: a loader worker
// or a second training thread starts with the default team, so each thread remembers what it applied.
thread_local int omp_applied = 0;
// OpenBLAS keeps one thread pool for the process.
std::atomic<int> blas_applied{0};
}  // namespace

int sync_threads(const Stream& stream) {
  const int wanted = context_of(stream).num_threads();
  if (omp_applied != wanted) {
    omp_set_num_threads(wanted);
    omp_applied = wanted;
  }
  if (blas_applied.load(std::memory_order_relaxed) != wanted && blas_applied.exchange(wanted) != wanted)
    openblas_set_num_threads(wanted);
  return wanted;
}

}  // namespace sprint::cpu
