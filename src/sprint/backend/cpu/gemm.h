// gemm.h: the CPU backend's single-precision matrix product, row-major, routed to the library the CpuContext
// selects (oneDNN's JIT sgemm by default, OpenBLAS on request).
#pragma once

#include "sprint/runtime/cpu/cpu_context.h"
#include "sprint/runtime/stream.h"

namespace sprint::cpu {

/// C(m, n) = alpha · op(A) · op(B) + beta · C, all row-major; op(X) = Xᵀ when trans_x.
/// A is (m, k) or (k, m) when transposed, B is (k, n) or (n, k); lda/ldb/ldc are row strides.
/// The GEMM the stream's context uses on this CPU: its setting, except kSprint on a CPU without AVX2 + FMA
/// (oneDNN then).
CpuGemm resolved_gemm(const Stream& stream);

void sgemm(const Stream& stream, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace sprint::cpu
