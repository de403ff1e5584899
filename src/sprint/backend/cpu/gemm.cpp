// gemm.cpp: f32 GEMM through oneDNN (dnnl_sgemm, row-major) or OpenBLAS (cblas_sgemm), per the CpuContext.
#include "sprint/backend/cpu/gemm.h"

#include <cblas.h>
#include <dnnl.h>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {

void sgemm(const Stream& stream, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  sync_threads(stream);
  if (context_of(stream).gemm() == CpuGemm::kOpenBlas) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  SPRINT_CHECK(status == dnnl_success, "dnnl_sgemm({}x{}x{}) failed with oneDNN status {}", m, n, k,
               static_cast<int>(status));
}

}  // namespace sprint::cpu
