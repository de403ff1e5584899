// sgemm_avx2.h: sprint's own f32 GEMM for CPUs with AVX2 + FMA (chosen at run time; see sgemm_avx2.cpp).
#pragma once

namespace sprint::cpu {

/// True when the running CPU has AVX2 and FMA (sgemm_avx2 may be called).
bool sgemm_avx2_supported();

/// C(m, n) = alpha · op(A) · op(B) + beta · C, row-major, op(X) = Xᵀ when trans_x (as cpu::sgemm); beta == 0 does
/// not read C. Splits the rows of C over up to `threads` OpenMP threads. Requires sgemm_avx2_supported().
void sgemm_avx2(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                const float* b, int ldb, float beta, float* c, int ldc, int threads);

}  // namespace sprint::cpu
