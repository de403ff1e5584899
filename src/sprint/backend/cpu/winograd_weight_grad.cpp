// winograd_weight_grad.cpp: the weight gradient of a 3x3, stride-1, padding-1 convolution by Winograd F(3x3, 4x4)
// (see winograd_transforms.h). dw[k, c, r, s] = Σ_n,p,q dy[n, k, p, q] · x[n, c, p + r - 1, q + s - 1]; cut dy's
// plane into 4x4 tiles (zeros past its edge) and each tile's share is a 3x3 correlation of the 6x6 window of x at
// (4i - 1, 4j - 1) with the 4x4 tile of dy: Gᵀ[(A e Aᵀ) ⊙ (Bᵀ d B)]G. Summing over tiles in the transformed
// domain leaves one GEMM per point ξ of the 6x6 domain:
//   V[ξ][t][c]  (36, T, Cp)   = (Bᵀ d B)[ξ] of tile t, channel c     (the forward pass's input transform)
//   E[ξ][t][k]  (36, T, Kp)   = (A e Aᵀ)[ξ] of tile t, channel k
//   M[ξ][c][k]  (36, Cp, Kp) += Σ_t V[ξ][t][c] · E[ξ][t][k]
//   dw[k, c]    (3x3)         = Gᵀ M[·][c][k] G
// Tiles go in chunks (V and E of a chunk, a few MB, stay in L3): the threads split a chunk's tiles for the
// transforms, then its 36 GEMMs by ξ, so each M[ξ] has one writer and needs no reduction.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/winograd_conv.h"
#include "sprint/backend/cpu/winograd_internal.h"
#include "sprint/backend/cpu/winograd_transforms.h"

namespace sprint::cpu {
namespace {
using namespace winograd;

/// E[ξ][t][kb·8 .. +8] (ξ xi_stride floats apart) = A e Aᵀ of the 4x4 tile of one channel block of dy at (h0, w0)
/// (zeros past the plane's edge).
__attribute__((target("avx2,fma"))) void gradient_tile(const float* src, int64_t sh, int64_t h0, int64_t w0,
                                                        int64_t height, int64_t width, float* e, int64_t xi_stride) {
  __m256 d[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      d[i][j] = h0 + i < height && w0 + j < width ? _mm256_loadu_ps(src + (h0 + i) * sh + (w0 + j) * 8)
                                                  : _mm256_setzero_ps();
  __m256 t[6][4];
  for (int j = 0; j < 4; ++j) {
    const __m256 col[4] = {d[0][j], d[1][j], d[2][j], d[3][j]};
    __m256 out[6];
    gradient_line(col, out);
    for (int i = 0; i < 6; ++i) t[i][j] = out[i];
  }
  for (int i = 0; i < 6; ++i) {
    __m256 out[6];
    gradient_line(t[i], out);
    for (int j = 0; j < 6; ++j) _mm256_store_ps(e + (i * 6 + j) * xi_stride, out[j]);
  }
}

/// Tiles per chunk: V and E of a chunk in about 4 MiB, at least 64 tiles (fewer passes over M for wide layers);
/// SPRINT_WINOGRAD_TILES overrides it (tests, benchmarking).
int64_t chunk_tiles(int64_t tiles, int64_t cp, int64_t kp) {
  if (const char* env = std::getenv("SPRINT_WINOGRAD_TILES"); env && *env && std::atoll(env) > 0)
    return std::min(tiles, static_cast<int64_t>(std::atoll(env)));
  const int64_t budget = 4 * 1024 * 1024 / (36 * 4 * (cp + kp));
  return std::min(tiles, std::max<int64_t>(64, budget));
}

/// dw (K, C, 3, 3) (=|+=) Gᵀ M G. Padding entries of blocked weights (k >= K or c >= C) are written as 0
/// (overwrite) or left as they are (accumulate).
__attribute__((target("avx2,fma"))) void output_filters(const float* m, int64_t cp, int64_t kp, const Tensor& dw,
                                                         bool accumulate, int threads) {
  const int64_t n_out = dw.dim(0), n_in = dw.dim(1), out_blocks = (n_out + 7) / 8;
  const int64_t xi_stride = round_up(cp, kMicroRows) * kp;
  float* w = dw.data_as<float>();
  const Offsets4d wo = offsets4d(dw);
  const bool blocked8 = dw.weight_block() == 8;
#pragma omp parallel for num_threads(threads) schedule(static) collapse(2) if (threads > 1)
  for (int64_t kb = 0; kb < out_blocks; ++kb)
    for (int64_t c = 0; c < cp; ++c) {
      __m256 s[3][6];
      for (int j = 0; j < 6; ++j) {
        __m256 col[6];
        for (int i = 0; i < 6; ++i) col[i] = _mm256_load_ps(m + (i * 6 + j) * xi_stride + c * kp + kb * 8);
        __m256 out[3];
        filter_gradient_line(col, out);
        for (int r = 0; r < 3; ++r) s[r][j] = out[r];
      }
      alignas(32) int32_t lanes[8];
      for (int i = 0; i < 8; ++i) lanes[i] = kb * 8 + i < n_out && c < n_in ? -1 : 0;
      const __m256 valid = _mm256_castsi256_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(lanes)));
      for (int r = 0; r < 3; ++r) {
        __m256 z[3];
        filter_gradient_line(s[r], z);
        for (int q = 0; q < 3; ++q) {
          const __m256 v = _mm256_and_ps(z[q], valid);
          if (blocked8) {
            float* dst = w + kb * dw.strides()[0] + c / 8 * dw.strides()[1] + r * dw.strides()[2] +
                         q * dw.strides()[3] + c % 8 * 8;
            _mm256_storeu_ps(dst, accumulate ? _mm256_add_ps(_mm256_loadu_ps(dst), v) : v);
            continue;
          }
          if (c >= n_in) continue;
          alignas(32) float lane_values[8];
          _mm256_store_ps(lane_values, v);
          for (int i = 0; i < 8 && kb * 8 + i < n_out; ++i) store(w[wo(kb * 8 + i, c, r, q)], lane_values[i], accumulate);
        }
      }
    }
}

/// db (=|+=) Σ_n,p,q dy (K).
__attribute__((target("avx2,fma"))) void bias_gradient(const Plane& dy, float* db, bool accumulate) {
  for (int64_t kb = 0; kb < (dy.c + 7) / 8; ++kb) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t n = 0; n < dy.n; ++n)
      for (int64_t h = 0; h < dy.h; ++h) {
        const float* row = dy.data + n * dy.sn + kb * dy.sc + h * dy.sh;
        for (int64_t w = 0; w < dy.w; ++w) acc = _mm256_add_ps(acc, _mm256_loadu_ps(row + w * 8));
      }
    alignas(32) float sums[8];
    _mm256_store_ps(sums, acc);
    for (int i = 0; i < 8 && kb * 8 + i < dy.c; ++i) store(db[kb * 8 + i], sums[i], accumulate);
  }
}

}  // namespace

void winograd_conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& a) {
  SPRINT_ASSERT(a.dw.defined(), "winograd_conv2d_backward_weight needs dw");
  const int threads = sync_threads(stream);
  const Plane x = plane_of(a.x), dy = plane_of(a.dy);
  const int64_t cp = round_up(x.c, 8), kp = round_up(dy.c, 16), cp_rows = round_up(cp, kMicroRows);
  const int64_t tiles_h = (dy.h + 3) / 4, tiles_w = (dy.w + 3) / 4, per_image = tiles_h * tiles_w;
  const int64_t tiles = dy.n * per_image, chunk = chunk_tiles(tiles, cp, kp);
  // V rows run cp_rows channels deep for the last 6-row sliver's reads (the extra rows are zeros).
  thread_local std::vector<float> v_buffer, e_buffer, m_buffer;
  float* v = aligned_floats(v_buffer, static_cast<size_t>(36 * chunk * cp + cp_rows));
  float* e = aligned_floats(e_buffer, static_cast<size_t>(36 * chunk * kp));
  float* m = aligned_floats(m_buffer, static_cast<size_t>(36 * cp_rows * kp));
  std::memset(m, 0, sizeof(float) * 36 * cp_rows * kp);
  std::memset(v + 36 * chunk * cp, 0, sizeof(float) * cp_rows);
  const int64_t v_stride = chunk * cp, e_stride = chunk * kp, m_stride = cp_rows * kp, panels = kp / 16;
#pragma omp parallel num_threads(threads) if (threads > 1)
  for (int64_t t_begin = 0; t_begin < tiles; t_begin += chunk) {
    const int64_t count = std::min(chunk, tiles - t_begin);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < count; ++t) {
      const int64_t tile = t_begin + t, n = tile / per_image, i = tile % per_image / tiles_w, j = tile % tiles_w;
      for (int64_t cb = 0; cb < cp / 8; ++cb)
        input_tile(x.data + n * x.sn + cb * x.sc, x.sh, 4 * i - 1, 4 * j - 1, x.h, x.w, v + t * cp + cb * 8,
                   v_stride);
      for (int64_t kb = 0; kb < kp / 8; ++kb) {
        float* et = e + t * kp + kb * 8;
        if (kb * 8 >= dy.c) {  // the 16-column panel's padding block
          for (int xi = 0; xi < 36; ++xi) _mm256_store_ps(et + xi * e_stride, _mm256_setzero_ps());
          continue;
        }
        gradient_tile(dy.data + n * dy.sn + kb * dy.sc, dy.sh, 4 * i, 4 * j, dy.h, dy.w, et, e_stride);
      }
    }
    // M[ξ] (Cp x Kp) += V[ξ]ᵀ E[ξ]: rows c of V[ξ]ᵀ are columns of V[ξ] (a_row 1, a_depth Cp).
#pragma omp for schedule(static)
    for (int64_t xi = 0; xi < 36; ++xi)
      for (int64_t pj = 0; pj < panels; ++pj)
        for (int64_t c0 = 0; c0 < cp; c0 += kMicroRows)
          micro_kernel(count, v + xi * v_stride + c0, 1, cp, e + xi * e_stride + pj * 16, kp,
                       m + xi * m_stride + c0 * kp + pj * 16, kp, /*accumulate=*/true);
  }
  output_filters(m, cp, kp, a.dw, a.mode == GradMode::kAccumulate, threads);
  if (a.db.defined()) bias_gradient(dy, a.db.data_as<float>(), a.mode == GradMode::kAccumulate);
}

}  // namespace sprint::cpu
