// sgemm_avx2_test.cpp: sprint's AVX2 + FMA GEMM against a float64 loop over the shapes that exercise every edge
// (partial 6 x 16 micro-tiles, several KC slices and MC blocks, one row or column), all four transpose
// combinations, alpha and beta (beta = 0 must not read C: it starts as NaN there), padded leading dimensions, and
// one or two threads. Skipped on a CPU without AVX2 and FMA.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sprint/backend/cpu/sgemm_avx2.h"
#include "sprint/core/rng.h"

namespace sprint::cpu {
namespace {

struct Shape3 {
  int m, n, k;
};

void check(const Shape3& s, bool ta, bool tb, float alpha, float beta, int threads) {
  SCOPED_TRACE(::testing::Message() << s.m << "x" << s.n << "x" << s.k << " ta " << ta << " tb " << tb << " alpha "
                                    << alpha << " beta " << beta << " threads " << threads);
  Generator rng(static_cast<uint64_t>(s.m * 131 + s.n * 7 + s.k));
  const int pad = 3;  // leading dimensions larger than the rows they hold
  const int a_rows = ta ? s.k : s.m, a_cols = ta ? s.m : s.k, b_rows = tb ? s.n : s.k, b_cols = tb ? s.k : s.n;
  const int lda = a_cols + pad, ldb = b_cols + pad, ldc = s.n + pad;
  std::vector<float> a(static_cast<size_t>(a_rows) * lda), b(static_cast<size_t>(b_rows) * ldb);
  for (float& v : a) v = rng.normal();
  for (float& v : b) v = rng.normal();
  std::vector<float> c(static_cast<size_t>(s.m) * ldc);
  for (float& v : c) v = beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : rng.normal();
  const std::vector<float> c0 = c;
  sgemm_avx2(ta, tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc, threads);
  for (int i = 0; i < s.m; ++i)
    for (int j = 0; j < s.n; ++j) {
      double acc = 0.0, mag = 0.0;
      for (int p = 0; p < s.k; ++p) {
        const double x = ta ? a[static_cast<size_t>(p) * lda + i] : a[static_cast<size_t>(i) * lda + p];
        const double y = tb ? b[static_cast<size_t>(j) * ldb + p] : b[static_cast<size_t>(p) * ldb + j];
        acc += x * y;
        mag += std::fabs(x * y);
      }
      const double c_in = beta == 0.0f ? 0.0 : c0[static_cast<size_t>(i) * ldc + j];
      const double want = alpha * acc + beta * c_in;
      const double got = c[static_cast<size_t>(i) * ldc + j];
      ASSERT_NEAR(got, want, 1e-5 * (std::fabs(alpha) * mag + std::fabs(beta * c_in)) + 1e-6) << i << ", " << j;
    }
  // Padding columns of C are never written.
  for (int i = 0; i < s.m; ++i)
    for (int j = s.n; j < ldc; ++j) {
      const float before = c0[static_cast<size_t>(i) * ldc + j], after = c[static_cast<size_t>(i) * ldc + j];
      ASSERT_TRUE(std::isnan(before) ? std::isnan(after) : before == after) << "wrote padding at " << i << ", " << j;
    }
}

TEST(SgemmAvx2, MatchesFloat64OnEveryEdge) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  for (const Shape3& s : {Shape3{1, 1, 1}, Shape3{6, 16, 5}, Shape3{7, 17, 3}, Shape3{5, 15, 257},
                          Shape3{97, 33, 300}, Shape3{200, 130, 520}, Shape3{64, 128, 784}, Shape3{1, 40, 9},
                          Shape3{40, 1, 9}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check(s, ta, tb, 1.0f, 0.0f, 1);
        check(s, ta, tb, -0.5f, 1.0f, 2);
      }
  check({100, 50, 70}, false, true, 2.0f, 0.25f, 2);
}

TEST(SgemmAvx2, EmptyDepthScalesC) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "this CPU has no AVX2 + FMA";
  std::vector<float> c{1.0f, 2.0f, 3.0f, 4.0f};
  sgemm_avx2(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2, 1);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f}));
  sgemm_avx2(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2, 1);
  EXPECT_EQ(c, (std::vector<float>{0.0f, 0.0f, 0.0f, 0.0f}));
}

}  // namespace
}  // namespace sprint::cpu
