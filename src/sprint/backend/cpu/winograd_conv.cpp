// winograd_conv.cpp: Winograd F(4x4, 3x3) forward and backward-data convolutions (see winograd_conv.h) on
// channel-blocked nChw8c planes; winograd_weight_grad.cpp holds the weight gradient.
//
// An output plane (P, Q) = (H, W) is cut into 4x4 tiles (the last row / column of tiles may stick out and is
// clipped); tile (i, j) reads the 6x6 input window at rows 4i-1 .. 4i+4, columns 4j-1 .. 4j+4 (zeros outside
// the plane: the padding). Per block of Tb tiles, all of one thread's:
//   V[ξ][t][c]  (36, Tb, Cp)     = (Bᵀ d B)[ξ] of tile t, channel c (the input transform, 8 channels a
//   vector) M[ξ][t][k]  (36, Tb, Kp)     = Σ_c V[ξ][t][c] · U[ξ][c][k]   (36 GEMMs, one per point ξ of the
//   6x6 domain) y[t][k]     (4x4 per tile)   = act((Aᵀ M A)[t][k] + b[k])    (the output transform with the
//   epilogue fused)
// with U[ξ][c][k] = (G g Gᵀ)[ξ] of filter (k, c), transformed once per call (the weights change every step)
// and shared by the threads. Cp = C rounded up to 8, Kp = K rounded up to 16 (the GEMM's column panels);
// padding channels have zero weights, so they add nothing and write zeros. The block size keeps V and M
// (36·Tb·(Cp + Kp) floats) inside a core's L2 where C and K allow (tile_block).
#include "sprint/backend/cpu/winograd_conv.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/sgemm_avx2.h"
#include "sprint/backend/cpu/winograd_internal.h"
#include "sprint/backend/cpu/winograd_transforms.h"

namespace sprint::cpu {
namespace winograd {

float* aligned_floats(std::vector<float>& buffer, size_t n) {
  if (buffer.size() < n + 16) buffer.resize(n + 16);
  const auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return reinterpret_cast<float*>((address + 63) & ~uintptr_t{63});
}

float* scratch(Scratch slot, size_t n) {
  thread_local std::vector<float> buffers[static_cast<int>(Scratch::kCount)];
  return aligned_floats(buffers[static_cast<int>(slot)], n);
}

Plane plane_of(const Tensor& t) {
  SPRINT_ASSERT(t.channel_block() == 8 && t.strides()[3] == 8, "winograd: {} is not nChw8c", t.description());
  return {t.data_as<float>(), t.strides()[0], t.strides()[1], t.strides()[2],
          t.dim(0),           t.dim(1),       t.dim(2),       t.dim(3)};
}

int64_t tile_block(int64_t tiles, int64_t cp, int64_t kp, int threads) {
  if (const char* env = std::getenv("SPRINT_WINOGRAD_TILES"); env && *env) {
    const int64_t forced = std::atoll(env);
    if (forced > 0) return round_up(forced, kMicroRows);
  }
  // V + M of a block in ~384 KiB of the 512 KiB L2, at least 18 tiles (each U panel is reused over Tb / 6
  // micro tiles). Where U itself is large (over 4 MiB: 256 channels and up), every block streams all of it
  // from L3 or memory, so blocks grow to one per thread (at most 66 tiles; V and M then live in L3): measured
  // on resnet18's 256- and 512-channel layers, 2 threads, 20-30% faster than 18-tile blocks.
  int64_t tb = std::max<int64_t>(18, (384 << 10) / (36 * 4 * (cp + kp)) / kMicroRows * kMicroRows);
  if (36 * 4 * cp * kp > (int64_t{4} << 20)) tb = std::min<int64_t>(66, (tiles + threads - 1) / threads);
  int64_t blocks = (tiles + tb - 1) / tb;
  blocks = (blocks + threads - 1) / threads * threads;  // the same number of blocks for every thread
  return round_up(std::max<int64_t>(1, (tiles + blocks - 1) / blocks), kMicroRows);
}

__attribute__((target("avx2,fma"))) void micro_kernel(int64_t kc, const float* a, int64_t a_row,
                                                      int64_t a_depth, const float* b, int64_t ldb, float* c,
                                                      int64_t ldc, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00,
         c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *a0 = a, *a1 = a + a_row, *a2 = a + 2 * a_row, *a3 = a + 3 * a_row, *a4 = a + 4 * a_row,
              *a5 = a + 5 * a_row;
  for (int64_t p = 0, o = 0; p < kc; ++p, o += a_depth) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 v = _mm256_broadcast_ss(a0 + o);
    c00 = _mm256_fmadd_ps(v, b0, c00);
    c01 = _mm256_fmadd_ps(v, b1, c01);
    v = _mm256_broadcast_ss(a1 + o);
    c10 = _mm256_fmadd_ps(v, b0, c10);
    c11 = _mm256_fmadd_ps(v, b1, c11);
    v = _mm256_broadcast_ss(a2 + o);
    c20 = _mm256_fmadd_ps(v, b0, c20);
    c21 = _mm256_fmadd_ps(v, b1, c21);
    v = _mm256_broadcast_ss(a3 + o);
    c30 = _mm256_fmadd_ps(v, b0, c30);
    c31 = _mm256_fmadd_ps(v, b1, c31);
    v = _mm256_broadcast_ss(a4 + o);
    c40 = _mm256_fmadd_ps(v, b0, c40);
    c41 = _mm256_fmadd_ps(v, b1, c41);
    v = _mm256_broadcast_ss(a5 + o);
    c50 = _mm256_fmadd_ps(v, b0, c50);
    c51 = _mm256_fmadd_ps(v, b1, c51);
    b += ldb;
  }
  const __m256 acc[kMicroRows][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int r = 0; r < kMicroRows; ++r) {
    float* row = c + r * ldc;
    __m256 lo = acc[r][0], hi = acc[r][1];
    if (accumulate) {
      lo = _mm256_add_ps(lo, _mm256_load_ps(row));
      hi = _mm256_add_ps(hi, _mm256_load_ps(row + 8));
    }
    _mm256_store_ps(row, lo);
    _mm256_store_ps(row + 8, hi);
  }
}

}  // namespace winograd

namespace {
using namespace winograd;

// ------------------------------------------------------------------------------------------------------------
// Weights: U[ξ][k / 16][c][k % 16] (36, Kp / 16, Cp, 16), each ξ a (Cp x Kp) matrix packed in 16-column
// panels
// ------------------------------------------------------------------------------------------------------------

/// Where filter (o, d) of the GEMM (o: its output channel, d: its depth channel) sits in a weight tensor w
/// (K, C, 3, 3), contiguous or blocked by 8, without divisions in the inner loops: the 8 output channels of a
/// vector are lane_stride apart from (o0, d)'s tap (r, s) at base(o0 / 8, d) + r·sr + s·ss. The backward-data
/// GEMM reads w with o = c and d = k, and its taps rotated by 180° (rotated: tap (r, s) is w's (2 - r, 2 -
/// s)).
struct FilterView {
  const float* w;
  int64_t n_out, n_depth;
  bool rotated;
  int64_t sr, ss;
  int64_t block_o;      // offset of the next block of 8 output channels
  int64_t block_d;      // blocked weights: offset of the next block of 8 depth channels; 0 for KCRS
  int64_t d_stride;     // offset of the next depth channel within a block (blocked) or overall (KCRS)
  int64_t lane_stride;  // offset of the next output channel within a block
  int64_t base(int64_t ob, int64_t d) const {
    return ob * block_o + (block_d != 0 ? d / 8 * block_d + d % 8 * d_stride : d * d_stride);
  }
};

FilterView filter_view(const Tensor& w, bool backward_data) {
  const int64_t s0 = w.strides()[0], s1 = w.strides()[1];
  FilterView v{w.data_as<float>(),
               backward_data ? w.dim(1) : w.dim(0),
               backward_data ? w.dim(0) : w.dim(1),
               backward_data,
               w.strides()[2],
               w.strides()[3],
               0,
               0,
               0,
               0};
  if (w.weight_block() == 8) {  // (k, c) at (k / 8)·s0 + (c / 8)·s1 + (c % 8)·8 + k % 8
    v.block_o = backward_data ? s1 : s0;
    v.block_d = backward_data ? s0 : s1;
    v.d_stride = backward_data ? 1 : 8;
    v.lane_stride = backward_data ? 8 : 1;
  } else {  // (k, c) at k·s0 + c·s1
    v.block_o = 8 * (backward_data ? s1 : s0);
    v.d_stride = backward_data ? s0 : s1;
    v.lane_stride = backward_data ? s1 : s0;
  }
  return v;
}

/// U from the filters of `f`; zeros for padding channels. Called by every thread of a parallel region (or
/// outside one), which share the work.
__attribute__((target("avx2,fma"))) void transform_filters(const FilterView& f, int64_t cp, int64_t kp,
                                                           float* u) {
  const int64_t out_blocks = kp / 8, panels = kp / 16;
#pragma omp for schedule(static) collapse(2)
  for (int64_t ob = 0; ob < out_blocks; ++ob)
    for (int64_t d = 0; d < cp; ++d) {
      alignas(32) float g[3][3][8] = {};
      const int64_t lanes = std::clamp<int64_t>(f.n_out - ob * 8, 0, 8);
      if (d < f.n_depth && lanes > 0) {
        const float* src = f.w + f.base(ob, d);
        for (int r = 0; r < 3; ++r)
          for (int s = 0; s < 3; ++s) {
            const float* tap = src + (f.rotated ? 2 - r : r) * f.sr + (f.rotated ? 2 - s : s) * f.ss;
            if (lanes == 8 && f.lane_stride == 1) {
              _mm256_store_ps(g[r][s], _mm256_loadu_ps(tap));
              continue;
            }
            for (int64_t i = 0; i < lanes; ++i) g[r][s][i] = tap[i * f.lane_stride];
          }
      }
      // t = G g (6 x 3), then u = t Gᵀ (6 x 6).
      __m256 t[6][3];
      for (int s = 0; s < 3; ++s) {
        const __m256 col[3] = {_mm256_load_ps(g[0][s]), _mm256_load_ps(g[1][s]), _mm256_load_ps(g[2][s])};
        __m256 out[6];
        filter_line(col, out);
        for (int i = 0; i < 6; ++i) t[i][s] = out[i];
      }
      float* base = u + ((ob / 2) * cp + d) * 16 + (ob % 2) * 8;
      for (int i = 0; i < 6; ++i) {
        __m256 out[6];
        filter_line(t[i], out);
        for (int j = 0; j < 6; ++j) _mm256_store_ps(base + (i * 6 + j) * panels * cp * 16, out[j]);
      }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Tiles
// ------------------------------------------------------------------------------------------------------------

}  // namespace

namespace winograd {
__attribute__((target("avx2,fma"))) void input_tile(const float* src, int64_t sh, int64_t h0, int64_t w0,
                                                    int64_t height, int64_t width, float* v,
                                                    int64_t xi_stride) {
  __m256 d[6][6];
  const bool inside = h0 >= 0 && w0 >= 0 && h0 + 6 <= height && w0 + 6 <= width;
  for (int i = 0; i < 6; ++i)
    for (int j = 0; j < 6; ++j) {
      const int64_t h = h0 + i, w = w0 + j;
      d[i][j] = inside || (h >= 0 && h < height && w >= 0 && w < width)
                    ? _mm256_loadu_ps(src + h * sh + w * 8)
                    : _mm256_setzero_ps();
    }
  __m256 t[6][6];
  for (int j = 0; j < 6; ++j) {
    const __m256 col[6] = {d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j]};
    __m256 out[6];
    input_line(col, out);
    for (int i = 0; i < 6; ++i) t[i][j] = out[i];
  }
  for (int i = 0; i < 6; ++i) {
    __m256 out[6];
    input_line(t[i], out);
    for (int j = 0; j < 6; ++j) _mm256_store_ps(v + (i * 6 + j) * xi_stride, out[j]);
  }
}
}  // namespace winograd

namespace {

/// The 4x4 outputs of one tile and channel block from M[ξ][t][kb·8 .. +8]: act(Aᵀ M A + bias), clipped to the
/// plane; added to what dst holds when accumulating.
__attribute__((target("avx2,fma"))) void output_tile(const float* m, int64_t xi_stride, __m256 bias,
                                                     bool relu, bool accumulate, float* dst, int64_t sh,
                                                     int64_t h0, int64_t w0, int64_t height, int64_t width) {
  __m256 t[4][6];
  for (int j = 0; j < 6; ++j) {
    __m256 col[6];
    for (int i = 0; i < 6; ++i) col[i] = _mm256_load_ps(m + (i * 6 + j) * xi_stride);
    __m256 out[4];
    output_line(col, out);
    for (int i = 0; i < 4; ++i) t[i][j] = out[i];
  }
  const int64_t rows = std::min<int64_t>(4, height - h0), cols = std::min<int64_t>(4, width - w0);
  for (int i = 0; i < rows; ++i) {
    __m256 out[4];
    output_line(t[i], out);
    float* row = dst + (h0 + i) * sh + w0 * 8;
    for (int j = 0; j < cols; ++j) {
      __m256 v = _mm256_add_ps(out[j], bias);
      if (relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
      if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(row + j * 8));
      _mm256_storeu_ps(row + j * 8, v);
    }
  }
}

struct TileJob {
  Plane in, out;
  float* u;           // (36, Kp / 16, Cp, 16), filled by run_tiles
  int64_t cp, kp;     // depth channels rounded up to 8, output channels rounded up to 16
  const float* bias;  // (Kp) or null
  bool relu = false, accumulate = false;
};

/// Input transform, 36 GEMMs and output transform of tiles [t_begin, t_begin + count) (count <= tb).
__attribute__((target("avx2,fma"))) void run_block(const TileJob& job, int64_t t_begin, int64_t count,
                                                   int64_t tb, float* v, float* m) {
  const int64_t tiles_h = (job.out.h + 3) / 4, tiles_w = (job.out.w + 3) / 4, per_image = tiles_h * tiles_w;
  const int64_t cp = job.cp, kp = job.kp, in_blocks = cp / 8, out_blocks = (job.out.c + 7) / 8;
  const int64_t v_stride = tb * cp, m_stride = tb * kp;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t tile = t_begin + t, n = tile / per_image, i = tile % per_image / tiles_w,
                  j = tile % tiles_w;
    const float* src = job.in.data + n * job.in.sn;
    for (int64_t cb = 0; cb < in_blocks; ++cb)
      input_tile(src + cb * job.in.sc, job.in.sh, 4 * i - 1, 4 * j - 1, job.in.h, job.in.w,
                 v + t * cp + cb * 8, v_stride);
  }
  // Rows past the last tile of a short block: zeros, so the GEMM reads finite values (results are dropped).
  for (int64_t xi = 0; xi < 36; ++xi)
    std::memset(v + xi * v_stride + count * cp, 0, sizeof(float) * (tb - count) * cp);
  const int64_t panels = kp / 16;
  constexpr int64_t kDepthChunk = 256;  // a 256 x 16 U panel slice (16 KiB) and a 6-row V sliver stay in L1
  for (int64_t xi = 0; xi < 36; ++xi) {
    const float* vx = v + xi * v_stride;
    float* mx = m + xi * m_stride;
    for (int64_t pj = 0; pj < panels; ++pj) {
      const float* up = job.u + (xi * panels + pj) * cp * 16;
      for (int64_t p0 = 0; p0 < cp; p0 += kDepthChunk) {
        const int64_t kc = std::min(kDepthChunk, cp - p0);
        for (int64_t t0 = 0; t0 < count; t0 += kMicroRows)
          micro_kernel(kc, vx + t0 * cp + p0, cp, 1, up + p0 * 16, 16, mx + t0 * kp + pj * 16, kp, p0 > 0);
      }
    }
  }
  for (int64_t t = 0; t < count; ++t) {
    const int64_t tile = t_begin + t, n = tile / per_image, i = tile % per_image / tiles_w,
                  j = tile % tiles_w;
    float* dst = job.out.data + n * job.out.sn;
    for (int64_t kb = 0; kb < out_blocks; ++kb) {
      const __m256 bias = job.bias ? _mm256_loadu_ps(job.bias + kb * 8) : _mm256_setzero_ps();
      output_tile(m + t * kp + kb * 8, m_stride, bias, job.relu, job.accumulate, dst + kb * job.out.sc,
                  job.out.sh, 4 * i, 4 * j, job.out.h, job.out.w);
    }
  }
}

/// U from `filters`, then every block of tiles: one parallel region (each fork and join costs, most of all on
/// a busy machine, where a descheduled thread holds up the barrier).
void run_tiles(const TileJob& job, const FilterView& filters, int threads) {
  const int64_t tiles = job.out.n * ((job.out.h + 3) / 4) * ((job.out.w + 3) / 4);
  const int64_t tb = tile_block(tiles, job.cp, job.kp, threads);
  const int64_t blocks = (tiles + tb - 1) / tb;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    transform_filters(filters, job.cp, job.kp, job.u);  // ends with a barrier
    float* v = scratch(Scratch::kTileV, static_cast<size_t>(36 * tb * job.cp));
    float* m = scratch(Scratch::kTileM, static_cast<size_t>(36 * tb * job.kp));
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) run_block(job, b * tb, std::min(tb, tiles - b * tb), tb, v, m);
  }
}

std::atomic<int> mode_override{-1};

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------------------------
WinogradMode winograd_mode() {
  const int forced = mode_override.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<WinogradMode>(forced);
  static const WinogradMode from_env = [] {
    const char* env = std::getenv("SPRINT_WINOGRAD");
    const std::string_view v = env ? env : "";
    if (v == "0" || v == "off") return WinogradMode::kOff;
    if (v == "1" || v == "on") return WinogradMode::kOn;
    return WinogradMode::kAuto;
  }();
  return from_env;
}

void set_winograd_mode(WinogradMode mode) {
  mode_override.store(static_cast<int>(mode));
}

bool winograd_supported(const Tensor& in, const Tensor& w, const Tensor& out, const Conv2dParams& p) {
  return sgemm_avx2_supported() && in.dtype() == DType::kF32 && w.ndim() == 4 && w.dim(2) == 3 &&
         w.dim(3) == 3 && p.stride == 1 && p.padding == 1 && p.dilation == 1 && p.groups == 1 &&
         in.channel_block() == 8 && out.channel_block() == 8 && in.strides()[3] == 8 &&
         out.strides()[3] == 8 && (w.is_contiguous() || w.weight_block() == 8);
}

void winograd_conv2d_forward(const Stream& stream, const Conv2dForwardArgs& a) {
  const int threads = sync_threads(stream);
  const int64_t c = a.x.dim(1), k = a.y.dim(1);
  const int64_t cp = round_up(c, 8), kp = round_up(k, 16);
  float* u = scratch(Scratch::kFilters, static_cast<size_t>(36 * cp * kp));
  TileJob job{plane_of(a.x), plane_of(a.y), u, cp, kp, nullptr, a.activation == Activation::kReLU, false};
  if (a.b.defined()) {
    float* b = scratch(Scratch::kBias, static_cast<size_t>(kp));
    std::fill(b, b + kp, 0.0f);
    std::memcpy(b, a.b.data_as<float>(), sizeof(float) * k);
    job.bias = b;
  }
  run_tiles(job, filter_view(a.w, /*backward_data=*/false), threads);
}

void winograd_conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& a) {
  const int threads = sync_threads(stream);
  const int64_t c = a.dx.dim(1), k = a.dy.dim(1);
  // dx[c, h, w] = Σ_k,r',s' dy[k, h - 1 + r', w - 1 + s'] · w[k, c, 2 - r', 2 - s']: the forward kernel over
  // dy with filters (c, k) rotated by 180°; depth K, output channels C.
  const int64_t cp = round_up(k, 8), kp = round_up(c, 16);
  float* u = scratch(Scratch::kFilters, static_cast<size_t>(36 * cp * kp));
  const TileJob job{
      plane_of(a.dy), plane_of(a.dx), u, cp, kp, nullptr, false, a.mode == GradMode::kAccumulate};
  run_tiles(job, filter_view(a.w, /*backward_data=*/true), threads);
}

}  // namespace sprint::cpu
