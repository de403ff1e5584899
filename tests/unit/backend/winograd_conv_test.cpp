// winograd_conv_test.cpp: the Winograd F(4x4, 3x3) convolutions (backend/cpu/winograd_conv.h) against the
// reference loops: forward with and without the bias + ReLU epilogue, backward-data overwrite and accumulate,
// backward-weight (with and without db, overwrite and accumulate), on nChw8c activations with blocked
// (OIhw8i8o) and contiguous KCRS weights; planes whose sides are not multiples of 4 (tiles clipped at the
// edge) down to 1x1, channel counts that are and are not multiples of 8 (padding channels must come out 0),
// batch 1, 2 and 3, one and two threads, wide layers (the large-U and shared-M paths), and small tile blocks
// (SPRINT_WINOGRAD_TILES) so that blocks and chunks end mid-image. Tolerance: Winograd is exact in real
// arithmetic, but its transforms scale values by up to ~100 (Bᵀ's 4s and 5s, Aᵀ's 8s, G's 1/24) before they
// cancel, so its f32 rounding error is well above a direct sum's (measured on these U(-1, 1) cases: up to
// 5e-6 of the result's norm, with headroom kept for larger and less uniform data). The check is therefore
// norm-relative, ‖got - ref‖ / ‖ref‖ <= 2e-4, plus an element-wise bound at 2e-3 · max |ref|.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sprint/backend/cpu/winograd_conv.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint::cpu {
namespace {

struct Case {
  int64_t n, c, k, h, w;
};

constexpr double kNormTol = 2e-4, kMaxTol = 2e-3;
double worst_norm_error = 0.0;  // printed by the tests: the margin under kNormTol

void expect_close(const Tensor& got, const Tensor& ref, const std::string& what) {
  const Stream s = cpu_context().compute_stream();
  const std::vector<float> g = ops::cast_to(s, got, DType::kF32).to_vector<float>();
  const std::vector<float> r = ops::cast_to(s, ref, DType::kF32).to_vector<float>();
  ASSERT_EQ(g.size(), r.size());
  double diff = 0.0, norm = 0.0, max_diff = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double d = static_cast<double>(g[i]) - r[i];
    diff += d * d;
    norm += static_cast<double>(r[i]) * r[i];
    max_diff = std::max(max_diff, std::fabs(d));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(r[i])));
  }
  if (norm > 0.0) worst_norm_error = std::max(worst_norm_error, std::sqrt(diff / norm));
  EXPECT_LE(std::sqrt(diff), kNormTol * std::sqrt(norm)) << what;
  EXPECT_LE(max_diff, kMaxTol * max_ref) << what;
}

/// Storage of a blocked tensor sums to the logical tensor's sum of magnitudes: its padding holds zeros.
void expect_zero_padding(const Tensor& blocked, const std::string& what) {
  const Stream s = cpu_context().compute_stream();
  const float* p = blocked.data_as<float>();
  double storage = 0.0, logical = 0.0;
  for (int64_t i = 0; i < blocked.storage_numel(); ++i) storage += std::fabs(p[i]);
  for (float v : ops::cast_to(s, blocked, DType::kF32).to_vector<float>()) logical += std::fabs(v);
  EXPECT_NEAR(storage, logical, 1e-6 * logical) << what << ": padding is not zero";
}

struct ModeGuard {
  explicit ModeGuard(WinogradMode m) { set_winograd_mode(m); }
  ~ModeGuard() { set_winograd_mode(WinogradMode::kAuto); }
};

void run_case(const Case& cc, MemoryFormat weight_format, int threads) {
  SCOPED_TRACE(::testing::Message() << "n " << cc.n << " c " << cc.c << " k " << cc.k << " " << cc.h << "x"
                                    << cc.w << " weights " << memory_format_name(weight_format) << " threads "
                                    << threads);
  CpuContext& ctx = cpu_context();
  const int previous_threads = ctx.num_threads();
  ctx.set_num_threads(threads);
  const Stream s = ctx.compute_stream();
  Generator rng(static_cast<uint64_t>(cc.n * 1000 + cc.c * 37 + cc.k * 11 + cc.h * 3 + cc.w));
  const MemoryFormat af = MemoryFormat::kChannelsBlocked8;
  const Conv2dParams params{.padding = 1};
  const Tensor x =
      ops::cast_to(s, testing::random_tensor({cc.n, cc.c, cc.h, cc.w}, DType::kF32, rng), DType::kF32, af);
  const Tensor w = ops::cast_to(s, testing::random_tensor({cc.k, cc.c, 3, 3}, DType::kF32, rng), DType::kF32,
                                weight_format);
  const Tensor b = testing::random_tensor({cc.k}, DType::kF32, rng);
  const Tensor dy =
      ops::cast_to(s, testing::random_tensor({cc.n, cc.k, cc.h, cc.w}, DType::kF32, rng), DType::kF32, af);
  const Tensor dx0 = ops::cast_to(s, testing::random_tensor(x.shape(), DType::kF32, rng), DType::kF32, af);
  const Tensor dw0 =
      ops::cast_to(s, testing::random_tensor(w.shape(), DType::kF32, rng), DType::kF32, weight_format);
  const Tensor db0 = testing::random_tensor({cc.k}, DType::kF32, rng);
  ASSERT_TRUE(winograd_supported(x, w, dy, params));

  // Outputs of every pass: y (no epilogue), y (bias + ReLU), dx, dx accumulated, dw + db, dw + db
  // accumulated.
  auto run = [&](bool reference) {
    testing::ReferenceModeGuard guard(reference);
    ModeGuard mode(WinogradMode::kOn);
    Allocator& alloc = ctx.allocator();
    std::vector<Tensor> out;
    for (Activation act : {Activation::kNone, Activation::kReLU}) {
      Tensor y = Tensor::empty(dy.shape(), DType::kF32, alloc, af);
      const Tensor& bias = act == Activation::kNone ? kNoTensor : b;
      ops::conv2d_forward(s, {.x = x, .w = w, .b = bias, .y = y, .params = params, .activation = act});
      out.push_back(y);
    }
    for (GradMode mode_ : {GradMode::kOverwrite, GradMode::kAccumulate}) {
      Tensor dx = ops::cast_to(s, dx0, DType::kF32, af);
      ops::conv2d_backward_data(s, {.dy = dy, .w = w, .dx = dx, .params = params, .mode = mode_});
      out.push_back(dx);
      Tensor dw = ops::cast_to(s, dw0, DType::kF32, weight_format), db = ops::cast_to(s, db0, DType::kF32);
      ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = db, .params = params, .mode = mode_});
      out.push_back(dw);
      out.push_back(db);
    }
    Tensor dw_only = Tensor::empty(w.shape(), DType::kF32, alloc, weight_format);
    ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw_only, .db = kNoTensor, .params = params});
    out.push_back(dw_only);
    return out;
  };
  const std::vector<Tensor> got = run(false), ref = run(true);
  const char* names[] = {"y",
                         "y (bias, relu)",
                         "dx",
                         "dw",
                         "db",
                         "dx (accumulate)",
                         "dw (accumulate)",
                         "db (accumulate)",
                         "dw (no db)"};
  for (size_t i = 0; i < got.size(); ++i) {
    expect_close(got[i], ref[i], names[i]);
    if (got[i].is_blocked()) expect_zero_padding(got[i], names[i]);
  }
  // The dispatcher ran the Winograd kernel: calling it directly gives the same bits.
  Tensor y = Tensor::empty(dy.shape(), DType::kF32, ctx.allocator(), af);
  winograd_conv2d_forward(s, {.x = x, .w = w, .b = kNoTensor, .y = y, .params = params});
  EXPECT_TRUE(testing::all_close(y, got[0], 0.0, 0.0));
  ctx.set_num_threads(previous_threads);
}

const Case kCases[] = {
    {1, 8, 8, 1, 1},     {3, 8, 16, 4, 4},   {1, 13, 11, 5, 9},  {3, 16, 24, 7, 7},
    {1, 16, 16, 32, 32}, {3, 32, 40, 6, 10}, {2, 264, 24, 4, 4}, {1, 3, 64, 8, 8},
};

TEST(WinogradConv, BlockedWeights) {
  for (const Case& c : kCases) run_case(c, MemoryFormat::kWeightsBlocked8, 2);
  std::printf("worst norm-relative error so far: %.3g\n", worst_norm_error);
}

// 176 channels: U over 4 MiB (forward and backward-data take one tile block per thread) and M over 4 MiB (the
// weight gradient's threads share one M and split its 36 GEMMs).
TEST(WinogradConv, WideLayers) {
  run_case({2, 176, 176, 4, 4}, MemoryFormat::kWeightsBlocked8, 2);
  run_case({3, 176, 168, 5, 7}, MemoryFormat::kContiguous, 2);
}

TEST(WinogradConv, ContiguousWeightsOneThread) {
  for (const Case& c : kCases) run_case(c, MemoryFormat::kContiguous, 1);
  std::printf("worst norm-relative error so far: %.3g\n", worst_norm_error);
}

// Blocks of 6 tiles (forward, backward-data) and chunks of 6 (backward-weight) that end inside an image.
TEST(WinogradConv, SmallTileBlocks) {
  setenv("SPRINT_WINOGRAD_TILES", "6", 1);
  run_case({3, 16, 24, 7, 7}, MemoryFormat::kWeightsBlocked8, 2);
  run_case({2, 8, 8, 9, 13}, MemoryFormat::kWeightsBlocked8, 1);
  run_case({3, 176, 176, 8, 8}, MemoryFormat::kWeightsBlocked8, 2);  // shared M, two chunks
  unsetenv("SPRINT_WINOGRAD_TILES");
}

TEST(WinogradConv, SupportedShapesOnly) {
  const Stream s = cpu_context().compute_stream();
  Generator rng(3);
  const Tensor x = ops::cast_to(s, testing::random_tensor({1, 8, 6, 6}, DType::kF32, rng), DType::kF32,
                                MemoryFormat::kChannelsBlocked8);
  const Tensor w = testing::random_tensor({8, 8, 3, 3}, DType::kF32, rng);
  const Tensor w1 = testing::random_tensor({8, 8, 1, 1}, DType::kF32, rng);
  const Tensor nchw = testing::random_tensor({1, 8, 6, 6}, DType::kF32, rng);
  EXPECT_TRUE(winograd_supported(x, w, x, {.padding = 1}));
  EXPECT_FALSE(winograd_supported(x, w, x, {.stride = 2, .padding = 1}));
  EXPECT_FALSE(winograd_supported(x, w, x, {.padding = 0}));
  EXPECT_FALSE(winograd_supported(x, w, x, {.padding = 1, .dilation = 2}));
  EXPECT_FALSE(winograd_supported(x, w1, x, {.padding = 1}));
  EXPECT_FALSE(winograd_supported(nchw, w, x, {.padding = 1}));
}

}  // namespace
}  // namespace sprint::cpu
