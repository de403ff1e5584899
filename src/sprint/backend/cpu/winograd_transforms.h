// winograd_transforms.h: the 1-D transforms of Winograd F(4, 3) on the points 0, 1, -1, 2, -2, ∞ (Lavin &
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2015), on AVX2 vectors of 8 channels. A 3-tap
// correlation of 6 inputs d with filter g, y_i = Σ_r d_{i+r}·g_r (i < 4), is y = Aᵀ[(G g) ⊙ (Bᵀ d)], and in
// 2-D on a 6x6 tile Y (4x4) = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. With
//   Bᵀ = [4  0 -5  0 1 0]   G = [ 1/4     0     0 ]   Aᵀ = [1 1  1 1  1 0]
//        [0 -4 -4  1 1 0]       [-1/6  -1/6  -1/6 ]        [0 1 -1 2 -2 0]
//        [0  4 -4 -1 1 0]       [-1/6   1/6  -1/6 ]        [0 1  1 4  4 0]
//        [0 -2 -1  2 1 0]       [ 1/24  1/12  1/6 ]        [0 1 -1 8 -8 1]
//        [0  2 -1 -2 1 0]       [ 1/24 -1/12  1/6 ]
//        [0  4  0 -5 0 1]       [ 0     0     1   ]
// The same trilinear form read with the 4-tap side as the filter gives F(3, 4), z_r = Σ_i d_{i+r}·e_i (r <
// 3): z = Gᵀ[(A e) ⊙ (Bᵀ d)] (the weight gradient's transforms: A e takes 4 values to 6, Gᵀ takes 6 back to
// 3). Each function maps one line of vectors; the 2-D transforms apply it to columns, then to rows.
#pragma once

#include <immintrin.h>

#define SPRINT_WINOGRAD_TARGET __attribute__((target("avx2,fma"), always_inline)) inline

namespace sprint::cpu::winograd {

/// o = Bᵀ d (6 -> 6).
SPRINT_WINOGRAD_TARGET void input_line(const __m256 d[6], __m256 o[6]) {
  const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f), two = _mm256_set1_ps(2.0f);
  // o0 = 4 d0 - 5 d2 + d4; o5 = 4 d1 - 5 d3 + d5
  o[0] = _mm256_fnmadd_ps(five, d[2], _mm256_fmadd_ps(four, d[0], d[4]));
  o[5] = _mm256_fnmadd_ps(five, d[3], _mm256_fmadd_ps(four, d[1], d[5]));
  // o1, o2 = ∓4 (d1 ± ... ): o1 = -4 (d1 + d2) + (d3 + d4), o2 = 4 (d1 - d2) + (d4 - d3)
  const __m256 s12 = _mm256_add_ps(d[1], d[2]), s34 = _mm256_add_ps(d[3], d[4]);
  o[1] = _mm256_fnmadd_ps(four, s12, s34);
  o[2] = _mm256_fmadd_ps(four, _mm256_sub_ps(d[1], d[2]), _mm256_sub_ps(d[4], d[3]));
  // o3 = 2 (d3 - d1) + (d4 - d2), o4 = 2 (d1 - d3) + (d4 - d2)
  const __m256 d13 = _mm256_sub_ps(d[3], d[1]), d42 = _mm256_sub_ps(d[4], d[2]);
  o[3] = _mm256_fmadd_ps(two, d13, d42);
  o[4] = _mm256_fnmadd_ps(two, d13, d42);
}

/// y = Aᵀ m (6 -> 4).
SPRINT_WINOGRAD_TARGET void output_line(const __m256 m[6], __m256 y[4]) {
  const __m256 p12 = _mm256_add_ps(m[1], m[2]), n12 = _mm256_sub_ps(m[1], m[2]);
  const __m256 p34 = _mm256_add_ps(m[3], m[4]), n34 = _mm256_sub_ps(m[3], m[4]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], p12), p34);
  y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), n34, n12);
  y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), p34, p12);
  y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), n34, n12), m[5]);
}

/// u = G g (3 -> 6).
SPRINT_WINOGRAD_TARGET void filter_line(const __m256 g[3], __m256 u[6]) {
  const __m256 sixth = _mm256_set1_ps(1.0f / 6.0f);
  const __m256 p02 = _mm256_add_ps(g[0], g[2]);
  u[0] = _mm256_mul_ps(_mm256_set1_ps(0.25f), g[0]);
  u[1] = _mm256_mul_ps(_mm256_set1_ps(-1.0f / 6.0f), _mm256_add_ps(p02, g[1]));
  u[2] = _mm256_mul_ps(_mm256_set1_ps(-1.0f / 6.0f), _mm256_sub_ps(p02, g[1]));
  // u3, u4 = g0/24 ± g1/12 + g2/6
  const __m256 even = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 24.0f), g[0], _mm256_mul_ps(sixth, g[2]));
  const __m256 odd = _mm256_mul_ps(_mm256_set1_ps(1.0f / 12.0f), g[1]);
  u[3] = _mm256_add_ps(even, odd);
  u[4] = _mm256_sub_ps(even, odd);
  u[5] = g[2];
}

/// u = A e (4 -> 6): the 4x4 output-gradient tile into the transformed domain (weight gradient).
SPRINT_WINOGRAD_TARGET void gradient_line(const __m256 e[4], __m256 u[6]) {
  const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f), eight = _mm256_set1_ps(8.0f);
  // A is Aᵀ's transpose: u_j = Σ_i Aᵀ[i][j] e_i.
  u[0] = e[0];
  const __m256 p02 = _mm256_add_ps(e[0], e[2]), p13 = _mm256_add_ps(e[1], e[3]);
  u[1] = _mm256_add_ps(p02, p13);
  u[2] = _mm256_sub_ps(p02, p13);
  // u3 = e0 + 2 e1 + 4 e2 + 8 e3, u4 = e0 - 2 e1 + 4 e2 - 8 e3
  const __m256 even = _mm256_fmadd_ps(four, e[2], e[0]),
               odd = _mm256_fmadd_ps(eight, e[3], _mm256_mul_ps(two, e[1]));
  u[3] = _mm256_add_ps(even, odd);
  u[4] = _mm256_sub_ps(even, odd);
  u[5] = e[3];
}

/// z = Gᵀ m (6 -> 3): the transformed weight gradient back to 3 taps.
SPRINT_WINOGRAD_TARGET void filter_gradient_line(const __m256 m[6], __m256 z[3]) {
  // Gᵀ = [1/4 -1/6 -1/6 1/24  1/24 0]
  //      [0   -1/6  1/6 1/12 -1/12 0]
  //      [0   -1/6 -1/6 1/6   1/6  1]
  const __m256 p12 = _mm256_add_ps(m[1], m[2]), n21 = _mm256_sub_ps(m[2], m[1]);
  const __m256 p34 = _mm256_add_ps(m[3], m[4]), n34 = _mm256_sub_ps(m[3], m[4]);
  const __m256 sixth = _mm256_set1_ps(1.0f / 6.0f);
  z[0] = _mm256_fmadd_ps(
      _mm256_set1_ps(0.25f), m[0],
      _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 24.0f), p34, _mm256_mul_ps(_mm256_set1_ps(-1.0f / 6.0f), p12)));
  z[1] = _mm256_fmadd_ps(sixth, n21, _mm256_mul_ps(_mm256_set1_ps(1.0f / 12.0f), n34));
  z[2] = _mm256_add_ps(_mm256_mul_ps(sixth, _mm256_sub_ps(p34, p12)), m[5]);
}

}  // namespace sprint::cpu::winograd
