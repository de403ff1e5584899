// winograd_internal.h: what winograd_conv.cpp (forward, backward-data) and winograd_weight_grad.cpp share:
// the view of an nChw8c plane, tile blocking, aligned scratch and the 6 x 16 GEMM micro-kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "sprint/core/tensor.h"

namespace sprint::cpu::winograd {

constexpr int kMicroRows = 6;  ///< rows of the GEMM micro-tile (tiles, or channels for the weight gradient)

/// A channel-blocked (N, C, H, W) f32 tensor by 8: element (n, c, h, w) at n·sn + (c / 8)·sc + h·sh + w·8 + c
/// % 8.
struct Plane {
  float* data;
  int64_t sn, sc, sh;
  int64_t n, c, h, w;
};

Plane plane_of(const Tensor& t);

inline int64_t round_up(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

/// A 64-byte aligned view of `buffer` with room for n floats (grows it; steady-state calls allocate nothing).
float* aligned_floats(std::vector<float>& buffer, size_t n);

/// Per-thread scratch, shared by the three passes (a thread runs one at a time), so that the largest layer's
/// buffers are held once: kFilters (U, or the weight gradient's M), kSharedV / kSharedE (the weight
/// gradient's shared chunk), kBias on the calling thread; kTileV / kTileM (a block's V and M, or V and E) on
/// every worker.
enum class Scratch { kFilters, kSharedV, kSharedE, kBias, kTileV, kTileM, kCount };
float* scratch(Scratch slot, size_t n);

/// Tiles per block (a multiple of kMicroRows) for `tiles` tiles of depth cp and width kp over `threads`.
/// SPRINT_WINOGRAD_TILES overrides it (benchmarking).
int64_t tile_block(int64_t tiles, int64_t cp, int64_t kp, int threads);

/// c (6 x 16, row stride ldc, 32-byte aligned) (=|+=) a · b over kc steps of depth: a(r, p) = a[r·a_row +
/// p·a_depth], b(p, 0 .. 16) = b[p·ldb ..] (32-byte aligned rows).
__attribute__((target("avx2,fma"))) void micro_kernel(int64_t kc, const float* a, int64_t a_row,
                                                      int64_t a_depth, const float* b, int64_t ldb, float* c,
                                                      int64_t ldc, bool accumulate);

/// V[ξ][t][cb·8 .. +8] (ξ xi_stride floats apart) = Bᵀ d B of the 6x6 window of one channel block whose
/// top-left is (h0, w0) (zeros outside the height x width plane; src points at the block's (0, 0), rows sh
/// apart).
__attribute__((target("avx2,fma"))) void input_tile(const float* src, int64_t sh, int64_t h0, int64_t w0,
                                                    int64_t height, int64_t width, float* v,
                                                    int64_t xi_stride);

}  // namespace sprint::cpu::winograd
