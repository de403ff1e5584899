// gemm.cpp: f32 GEMM through oneDNN (dnnl_sgemm, row-major) or OpenBLAS (cblas_sgemm), per the CpuContext.
#include "sprint/backend/cpu/gemm.h"

#include <algorithm>

#include <cblas.h>
#include <dnnl.h>
#include <omp.h>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/sgemm_avx2.h"

namespace sprint::cpu {
namespace {
// Below this much work per thread an extra OpenMP thread costs more (fork/join, cache traffic) than it gives:
// measured on the MLP (64x784x128, 13 MFLOP per product) 2 threads ran 0.27 s per epoch against 0.19 s on one.
constexpr double kMinFlopsPerThread = 64e6;

int threads_for(double flops, int wanted) {
  return std::clamp(static_cast<int>(flops / kMinFlopsPerThread), 1, wanted);
}
/// The GEMM a context setting stands for on this CPU (kSprint needs AVX2 + FMA).
CpuGemm resolve(CpuGemm g) {
  switch (g) {
    case CpuGemm::kSprint: return sgemm_avx2_supported() ? CpuGemm::kSprint : CpuGemm::kOneDnn;
    case CpuGemm::kOneDnn:
    case CpuGemm::kOpenBlas: return g;
  }
  return CpuGemm::kOneDnn;
}
}  // namespace

CpuGemm resolved_gemm(const Stream& stream) { return resolve(context_of(stream).gemm()); }

void sgemm(const Stream& stream, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  const int wanted = sync_threads(stream);
  const int used = threads_for(2.0 * m * n * k, wanted);
  switch (resolve(context_of(stream).gemm())) {
    case CpuGemm::kOpenBlas:
      cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
                  k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    case CpuGemm::kSprint:
      sgemm_avx2(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, used);
      return;
    case CpuGemm::kOneDnn: break;
  }
  // oneDNN's sgemm forks omp_get_max_threads() threads: lower it for small products, restore it after.
  if (used != wanted) omp_set_num_threads(used);
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (used != wanted) omp_set_num_threads(wanted);
  SPRINT_CHECK(status == dnnl_success, "dnnl_sgemm({}x{}x{}) failed with oneDNN status {}", m, n, k,
               static_cast<int>(status));
}

}  // namespace sprint::cpu
