// winograd_weight_grad.cpp: the weight gradient of a 3x3, stride-1, padding-1 convolution by Winograd F(3x3,
// 4x4) (see winograd_transforms.h). dw[k, c, r, s] = Σ_n,p,q dy[n, k, p, q] · x[n, c, p + r - 1, q + s - 1];
// cut dy's plane into 4x4 tiles (zeros past its edge) and each tile's share is a 3x3 correlation of the 6x6
// window of x at (4i - 1, 4j - 1) with the 4x4 tile of dy: Gᵀ[(A e Aᵀ) ⊙ (Bᵀ d B)]G. Summing over tiles in
// the transformed domain leaves one GEMM per point ξ of the 6x6 domain:
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

/// E[ξ][t][kb·8 .. +8] (ξ xi_stride floats apart) = A e Aᵀ of the 4x4 tile of one channel block of dy at (h0,
/// w0) (zeros past the plane's edge).
__attribute__((target("avx2,fma"))) void gradient_tile(const float* src, int64_t sh, int64_t h0, int64_t w0,
                                                       int64_t height, int64_t width, float* e,
                                                       int64_t xi_stride) {
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

/// SPRINT_WINOGRAD_TILES, when set: tiles per chunk (tests, benchmarking); else 0.
int64_t forced_chunk() {
  const char* env = std::getenv("SPRINT_WINOGRAD_TILES");
  return env && *env ? std::max<int64_t>(0, std::atoll(env)) : 0;
}

struct Layer {
  Plane x, dy;
  int64_t cp, kp, cp_rows, tiles_w, per_image;
};

/// V (36, ·, Cp) and E (36, ·, Kp) rows [0, count) for tiles [t_begin, t_begin + count).
__attribute__((target("avx2,fma"))) void transform_tiles(const Layer& l, int64_t t_begin, int64_t count,
                                                         float* v, int64_t v_stride, float* e,
                                                         int64_t e_stride) {
  for (int64_t t = 0; t < count; ++t) {
    const int64_t tile = t_begin + t, n = tile / l.per_image, i = tile % l.per_image / l.tiles_w,
                  j = tile % l.tiles_w;
    for (int64_t cb = 0; cb < l.cp / 8; ++cb)
      input_tile(l.x.data + n * l.x.sn + cb * l.x.sc, l.x.sh, 4 * i - 1, 4 * j - 1, l.x.h, l.x.w,
                 v + t * l.cp + cb * 8, v_stride);
    for (int64_t kb = 0; kb < l.kp / 8; ++kb) {
      float* et = e + t * l.kp + kb * 8;
      if (kb * 8 >= l.dy.c) {  // the 16-column panel's padding block
        for (int xi = 0; xi < 36; ++xi) _mm256_store_ps(et + xi * e_stride, _mm256_setzero_ps());
        continue;
      }
      gradient_tile(l.dy.data + n * l.dy.sn + kb * l.dy.sc, l.dy.sh, 4 * i, 4 * j, l.dy.h, l.dy.w, et,
                    e_stride);
    }
  }
}

/// M[ξ] (Cp x Kp) += V[ξ]ᵀ E[ξ] over `count` tiles for ξ in [xi_begin, xi_end): rows c of V[ξ]ᵀ are columns
/// of V[ξ] (a_row 1, a_depth Cp).
void accumulate_products(const Layer& l, int64_t xi_begin, int64_t xi_end, int64_t count, const float* v,
                         int64_t v_stride, const float* e, int64_t e_stride, float* m) {
  const int64_t m_stride = l.cp_rows * l.kp;
  for (int64_t xi = xi_begin; xi < xi_end; ++xi)
    for (int64_t pj = 0; pj < l.kp / 16; ++pj)
      for (int64_t c0 = 0; c0 < l.cp; c0 += kMicroRows)
        micro_kernel(count, v + xi * v_stride + c0, 1, l.cp, e + xi * e_stride + pj * 16, l.kp,
                     m + xi * m_stride + c0 * l.kp + pj * 16, l.kp, /*accumulate=*/true);
}

/// dw (K, C, 3, 3) (=|+=) Gᵀ M G. Padding entries of blocked weights (k >= K or c >= C) are written as 0
/// (overwrite) or left as they are (accumulate).
/// M is the sum of `copies` arrays copy_stride floats apart (one per thread that accumulated its own). Called
/// by every thread of a parallel region (or outside one), which share the work.
__attribute__((target("avx2,fma"))) void output_filters(const float* m, int64_t copies, int64_t copy_stride,
                                                        int64_t cp, int64_t kp, const Tensor& dw,
                                                        bool accumulate) {
  const int64_t n_out = dw.dim(0), n_in = dw.dim(1), out_blocks = (n_out + 7) / 8;
  const int64_t xi_stride = round_up(cp, kMicroRows) * kp;
  float* w = dw.data_as<float>();
  const Offsets4d wo = offsets4d(dw);
  const bool blocked8 = dw.weight_block() == 8;
#pragma omp for schedule(static) collapse(2)
  for (int64_t kb = 0; kb < out_blocks; ++kb)
    for (int64_t c = 0; c < cp; ++c) {
      __m256 s[3][6];
      for (int j = 0; j < 6; ++j) {
        __m256 col[6];
        for (int i = 0; i < 6; ++i) {
          const float* src = m + (i * 6 + j) * xi_stride + c * kp + kb * 8;
          col[i] = _mm256_load_ps(src);
          for (int64_t copy = 1; copy < copies; ++copy)
            col[i] = _mm256_add_ps(col[i], _mm256_load_ps(src + copy * copy_stride));
        }
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
          for (int i = 0; i < 8 && kb * 8 + i < n_out; ++i)
            store(w[wo(kb * 8 + i, c, r, q)], lane_values[i], accumulate);
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
  Layer l{plane_of(a.x), plane_of(a.dy), 0, 0, 0, 0, 0};
  l.cp = round_up(l.x.c, 8);
  l.kp = round_up(l.dy.c, 16);
  l.cp_rows = round_up(l.cp, kMicroRows);  // M's rows: whole 6-row slivers (the extra rows are dropped)
  l.tiles_w = (l.dy.w + 3) / 4;
  l.per_image = (l.dy.h + 3) / 4 * l.tiles_w;
  const int64_t tiles = l.dy.n * l.per_image, m_size = 36 * l.cp_rows * l.kp;
  const int64_t tile_floats = 36 * (l.cp + l.kp), forced = forced_chunk();
  // Narrow layers (M of 4 MiB or less, many tiles): each thread sums its own tiles into its own M, chunk by
  // chunk (V and E of a chunk in ~384 KiB of L2), without barriers; output_filters adds the copies. Wide
  // layers (few tiles): the threads share one M and split each chunk's tiles, then its 36 GEMMs by ξ (one
  // writer per M[ξ]).
  const bool per_thread = threads == 1 || m_size * 4 <= (int64_t{4} << 20);
  const int64_t chunk = std::min(tiles, forced > 0   ? forced
                                        : per_thread ? std::max<int64_t>(24, (384 << 10) / (4 * tile_floats))
                                                     : std::max<int64_t>(64, (24 << 20) / (4 * tile_floats)));
  // V rows run cp_rows channels deep for the last 6-row sliver's reads: cp_rows - cp extra floats, zeros.
  const int64_t v_size = 36 * chunk * l.cp + l.cp_rows, e_size = 36 * chunk * l.kp;
  float* m = scratch(Scratch::kFilters, static_cast<size_t>(m_size * (per_thread ? threads : 1)));
  float* sv = per_thread ? nullptr : scratch(Scratch::kSharedV, static_cast<size_t>(v_size));
  float* se = per_thread ? nullptr : scratch(Scratch::kSharedE, static_cast<size_t>(e_size));
  if (sv) std::memset(sv + 36 * chunk * l.cp, 0, sizeof(float) * l.cp_rows);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int id = omp_get_thread_num(), team = omp_get_num_threads();
    if (per_thread) {
      float* mine = m + id * m_size;
      std::memset(mine, 0, sizeof(float) * m_size);
      float* v = scratch(Scratch::kTileV, static_cast<size_t>(v_size));
      float* e = scratch(Scratch::kTileM, static_cast<size_t>(e_size));
      std::memset(v + 36 * chunk * l.cp, 0, sizeof(float) * l.cp_rows);
      const int64_t begin = tiles * id / team, end = tiles * (id + 1) / team;
      for (int64_t t0 = begin; t0 < end; t0 += chunk) {
        const int64_t count = std::min(chunk, end - t0);
        transform_tiles(l, t0, count, v, chunk * l.cp, e, chunk * l.kp);
        accumulate_products(l, 0, 36, count, v, chunk * l.cp, e, chunk * l.kp, mine);
      }
    } else {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < m_size; ++i) m[i] = 0.0f;
      for (int64_t t0 = 0; t0 < tiles; t0 += chunk) {
        const int64_t count = std::min(chunk, tiles - t0);
        const int64_t begin = count * id / team, end = count * (id + 1) / team;
        transform_tiles(l, t0 + begin, end - begin, sv + begin * l.cp, chunk * l.cp, se + begin * l.kp,
                        chunk * l.kp);
#pragma omp barrier
        accumulate_products(l, 36 * id / team, 36 * (id + 1) / team, count, sv, chunk * l.cp, se,
                            chunk * l.kp, m);
#pragma omp barrier
      }
    }
    if (per_thread) {
#pragma omp barrier
    }
    output_filters(m, per_thread ? team : 1, m_size, l.cp, l.kp, a.dw, a.mode == GradMode::kAccumulate);
  }
  if (a.db.defined()) bias_gradient(l.dy, a.db.data_as<float>(), a.mode == GradMode::kAccumulate);
}

}  // namespace sprint::cpu
