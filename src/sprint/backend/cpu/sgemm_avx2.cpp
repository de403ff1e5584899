// sgemm_avx2.cpp: sprint's own f32 GEMM for x86-64 CPUs with AVX2 and FMA, compiled for those instructions
// whatever the build's -march (the functions carry target attributes) and chosen at run time only when the CPU has
// them. Goto/BLIS structure: C is computed in MC x NC blocks over KC-deep slices; A slivers (MR rows) and B
// slivers (NR columns) are packed k-major into contiguous buffers, and a 6 x 16 register-blocked micro-kernel
// (12 ymm accumulators, two FMAs per broadcast) runs over them. Row-major throughout; transposes are absorbed by
// the packing. Threads split the rows of C (MC blocks); each packs its own A block and reads the shared packed B.
#include "sprint/backend/cpu/sgemm_avx2.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sprint::cpu {
namespace {

constexpr int kMr = 6;     // rows of C per micro-tile
constexpr int kNr = 16;    // columns of C per micro-tile (two ymm)
constexpr int kKc = 256;   // depth of one packed slice: a 6 x 256 A sliver and a 256 x 16 B sliver stay in L1
constexpr int kMc = 96;    // rows per A block (96 x 256 floats = 96 KiB, in L2)
constexpr int kNc = 4096;  // columns per B block

int round_up(int v, int m) { return (v + m - 1) / m * m; }

/// A 64-byte aligned view of `buffer` with room for `n` floats (grows it; 32-byte loads never split a line).
float* aligned_floats(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n + 16) buffer.resize(n + 16);
  const auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return reinterpret_cast<float*>((address + 63) & ~uintptr_t{63});
}

/// Packs rows [i0, i0 + mc) x depth [p0, p0 + kc) of op(A) into MR-row slivers, k-major, zero-padded rows.
void pack_a(bool trans_a, const float* a, int lda, int i0, int mc, int p0, int kc, float* out) {
  for (int ir = 0; ir < mc; ir += kMr) {
    const int rows = std::min(kMr, mc - ir);
    for (int p = 0; p < kc; ++p) {
      for (int r = 0; r < rows; ++r) {
        const int i = i0 + ir + r, kk = p0 + p;
        out[p * kMr + r] = trans_a ? a[static_cast<int64_t>(kk) * lda + i] : a[static_cast<int64_t>(i) * lda + kk];
      }
      for (int r = rows; r < kMr; ++r) out[p * kMr + r] = 0.0f;
    }
    out += kMr * kc;
  }
}

/// Packs depth [p0, p0 + kc) x columns [j0, j0 + nc) of op(B) into NR-column slivers, k-major, zero-padded.
void pack_b(bool trans_b, const float* b, int ldb, int p0, int kc, int j0, int nc, float* out) {
  for (int jr = 0; jr < nc; jr += kNr) {
    const int cols = std::min(kNr, nc - jr);
    for (int p = 0; p < kc; ++p) {
      const int kk = p0 + p;
      float* dst = out + p * kNr;
      if (!trans_b && cols == kNr) {
        std::memcpy(dst, b + static_cast<int64_t>(kk) * ldb + j0 + jr, sizeof(float) * kNr);
        continue;
      }
      for (int c = 0; c < cols; ++c) {
        const int j = j0 + jr + c;
        dst[c] = trans_b ? b[static_cast<int64_t>(j) * ldb + kk] : b[static_cast<int64_t>(kk) * ldb + j];
      }
      for (int c = cols; c < kNr; ++c) dst[c] = 0.0f;
    }
    out += kNr * kc;
  }
}

/// acc(6 x 16) = Ap(6 x kc) · Bp(kc x 16); C(rows x cols) = alpha·acc + beta·C (beta == 0: C is not read). The
/// twelve accumulators are named variables, not an array: GCC keeps an array in memory and stores it every
/// iteration (measured: 3x slower).
__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int kc, const float* ap, const float* bp, float alpha,
                                                       float beta, float* c, int ldc, int rows, int cols) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
    __m256 a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    ap += kMr;
    bp += kNr;
  }
  const __m256 acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (rows == kMr && cols == kNr) {
    for (int r = 0; r < kMr; ++r) {
      float* row = c + static_cast<int64_t>(r) * ldc;
      __m256 lo = _mm256_mul_ps(va, acc[r][0]), hi = _mm256_mul_ps(va, acc[r][1]);
      if (beta != 0.0f) {
        lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), lo);
        hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), hi);
      }
      _mm256_storeu_ps(row, lo);
      _mm256_storeu_ps(row + 8, hi);
    }
    return;
  }
  alignas(32) float tile[kMr][kNr];
  for (int r = 0; r < kMr; ++r) {
    _mm256_store_ps(tile[r], acc[r][0]);
    _mm256_store_ps(tile[r] + 8, acc[r][1]);
  }
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    for (int j = 0; j < cols; ++j) row[j] = alpha * tile[r][j] + (beta != 0.0f ? beta * row[j] : 0.0f);
  }
}

}  // namespace

bool sgemm_avx2_supported() {
  static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported;
}

void sgemm_avx2(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                const float* b, int ldb, float beta, float* c, int ldc, int threads) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {  // C = beta·C
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        float& v = c[static_cast<int64_t>(i) * ldc + j];
        v = beta == 0.0f ? 0.0f : beta * v;
      }
    return;
  }
  const int m_blocks = (m + kMc - 1) / kMc;
  const int used = std::max(1, std::min(threads, m_blocks));
  // Packing buffers live per thread and grow once: steady-state calls allocate nothing.
  thread_local std::vector<float> packed_b;
  float* const pb = aligned_floats(packed_b, static_cast<size_t>(round_up(std::min(n, kNc), kNr)) * kKc);
  for (int j0 = 0; j0 < n; j0 += kNc) {
    const int nc = std::min(kNc, n - j0);
    for (int p0 = 0; p0 < k; p0 += kKc) {
      const int kc = std::min(kKc, k - p0);
      const float beta_slice = p0 == 0 ? beta : 1.0f;  // later slices add to what the first wrote
      pack_b(trans_b, b, ldb, p0, kc, j0, nc, pb);
#pragma omp parallel for num_threads(used) schedule(static) if (used > 1)
      for (int block = 0; block < m_blocks; ++block) {
        const int i0 = block * kMc, mc = std::min(kMc, m - i0);
        thread_local std::vector<float> packed_a;  // one per thread: each packs its own A block
        float* ap = aligned_floats(packed_a, static_cast<size_t>(round_up(kMc, kMr)) * kKc);
        pack_a(trans_a, a, lda, i0, mc, p0, kc, ap);
        for (int jr = 0; jr < nc; jr += kNr) {
          const float* bp = pb + static_cast<int64_t>(jr / kNr) * kNr * kc;
          for (int ir = 0; ir < mc; ir += kMr) {
            micro_kernel_avx2(kc, ap + static_cast<int64_t>(ir / kMr) * kMr * kc, bp, alpha, beta_slice,
                         c + static_cast<int64_t>(i0 + ir) * ldc + j0 + jr, ldc, std::min(kMr, mc - ir),
                         std::min(kNr, nc - jr));
          }
        }
      }
    }
  }
}

}  // namespace sprint::cpu
