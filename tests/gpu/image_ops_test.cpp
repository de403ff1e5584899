// image_ops_test.cpp: the CUDA convolution, batch-norm, pooling and dropout backends at the edges the parity
// table does not reach: the device Philox against core/rng (host-side, runs without a GPU), dropout masks and
// values bit for bit against the CPU, the cuDNN algorithm cache (a repeated problem never searches again, a
// graph capture never searches), convolution accumulate modes and the KRSC weight reorder of NHWC calls,
// batch-norm gradient-mode combinations and multi-chunk reductions, pooling ties / NaN / overlapping windows
// (gather backward in the CPU's addition order: bit-identical in f32), and empty batches.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "gpu/gpu_test_util.h"
#include "sprint/backend/cuda/cudnn_conv.h"
#include "sprint/backend/cuda/philox.cuh"
#include "sprint/core/rng.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/dispatch.h"
#include "sprint/ops/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/norm.h"
#include "sprint/ops/pool.h"
#include "sprint/runtime/cuda/cuda_graph.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {

constexpr MemoryFormat kNCHW = MemoryFormat::kContiguous;
constexpr MemoryFormat kNHWC = MemoryFormat::kChannelsLast;

const char* format_name(MemoryFormat f) { return f == kNHWC ? "nhwc" : "nchw"; }

// ------------------------------------------------------------------------------------------------------------
// Host-side: the device Philox is the core generator (no GPU needed)
// ------------------------------------------------------------------------------------------------------------

TEST(DevicePhiloxTest, HostPathMatchesCoreGenerator) {
  const uint64_t seeds[] = {0ull, 1ull, 1234567ull, 0xDEADBEEFCAFEF00Dull, ~0ull};
  const uint64_t blocks[] = {0ull, 1ull, 2ull, 250ull, 0xFFFFFFFFull, 0x100000000ull, 0x123456789ABCull};
  for (uint64_t seed : seeds)
    for (uint64_t block : blocks) {
      const auto expected =
          philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u},
                     {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
      const cuda::PhiloxWords got = cuda::philox_block(seed, block);
      for (int k = 0; k < 4; ++k) EXPECT_EQ(got.w[k], expected[static_cast<size_t>(k)]) << seed << " " << block;
      for (uint32_t k = 0; k < 4; ++k) {
        const uint64_t word = block * 4 + k;
        EXPECT_EQ(cuda::philox_word(seed, word), philox_word(seed, word));
        EXPECT_EQ(cuda::philox_uniform(philox_word(seed, word)), uniform_from_bits(philox_word(seed, word)));
      }
    }
}

// ------------------------------------------------------------------------------------------------------------
// Fixture
// ------------------------------------------------------------------------------------------------------------

class ImageOpsTest : public testing::CudaTest {
 protected:
  Stream cpu() { return cpu_context().compute_stream(); }
  /// Device tensor of `dtype` in `format` with the values of a host tensor.
  Tensor dev(const Tensor& host, DType dtype = DType::kF32, MemoryFormat format = kNCHW) {
    return ops::cast_to(stream(), to_device(host), dtype, format);
  }
  Tensor dev_empty(const Shape& shape, DType dtype = DType::kF32, MemoryFormat format = kNCHW) {
    return Tensor::empty(shape, dtype, context().allocator(), format);
  }
  Tensor dev_full(const Shape& shape, double value, MemoryFormat format = kNCHW) {
    return ops::full(stream(), shape, DType::kF32, value, shape.size() == 4 ? format : kNCHW);
  }
  /// Host f32 tensor in `format` (4-D only) from a host f64 one.
  Tensor host(const Tensor& t, MemoryFormat format = kNCHW, DType dtype = DType::kF32) {
    return ops::cast_to(cpu(), t, dtype, t.ndim() == 4 ? format : kNCHW);
  }
  /// Logical-order values of a host tensor in any format.
  template <class T>
  std::vector<T> host_values(const Tensor& t) {
    return t.to_vector<T>();  // walks the strides: logical order
  }
};

// ------------------------------------------------------------------------------------------------------------
// Dropout
// ------------------------------------------------------------------------------------------------------------

TEST_F(ImageOpsTest, DropoutMasksAndValuesMatchTheCpuBitForBit) {
  struct Case {
    Shape shape;
    MemoryFormat format;
    uint64_t offset;
    double p;
  };
  const Case cases[] = {{{1001}, kNCHW, 1003, 0.5},        // offset not a multiple of 4, odd length
                        {{37, 13}, kNCHW, 2, 0.3},         //
                        {{3, 5, 7, 9}, kNHWC, 6, 0.5},     // channels-last: logical != memory order
                        {{2, 4, 3, 5}, kNCHW, 0, 0.9},     //
                        {{2, 1, 6, 5}, kNHWC, 17, 0.25}};  // layout-neutral channels-last
  Generator rng(3);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shape.to_string() + " " + format_name(c.format));
    const DropoutMask mask{.p = c.p, .seed = 987654321, .offset = c.offset};
    const Tensor x_h = host(testing::random_tensor(c.shape, DType::kF64, rng, 0.5, 1.5), c.format);
    const Tensor dy_h = host(testing::random_tensor(c.shape, DType::kF64, rng, 0.5, 1.5), c.format);
    const MemoryFormat f = c.shape.size() == 4 ? c.format : kNCHW;
    // CPU.
    Tensor y_ref = Tensor::empty(c.shape, DType::kF32, cpu_context().allocator(), f);
    Tensor dx_ref = Tensor::empty(c.shape, DType::kF32, cpu_context().allocator(), f);
    Tensor dx_acc_ref = ops::full(cpu(), c.shape, DType::kF32, 0.25, f);
    ops::dropout_forward(cpu(), {.x = x_h, .y = y_ref, .mask = mask});
    ops::dropout_backward(cpu(), {.dy = dy_h, .dx = dx_ref, .mask = mask});
    ops::dropout_backward(cpu(), {.dy = dy_h, .dx = dx_acc_ref, .mask = mask, .mode = GradMode::kAccumulate});
    // CUDA f32: identical bits (one rounded product per element) ...
    const Tensor x = dev(x_h, DType::kF32, f), dy = dev(dy_h, DType::kF32, f);
    Tensor y = dev_empty(c.shape, DType::kF32, f), dx = dev_empty(c.shape, DType::kF32, f);
    Tensor dx_acc = dev_full(c.shape, 0.25, f);
    ops::dropout_forward(stream(), {.x = x, .y = y, .mask = mask});
    ops::dropout_backward(stream(), {.dy = dy, .dx = dx, .mask = mask});
    ops::dropout_backward(stream(), {.dy = dy, .dx = dx_acc, .mask = mask, .mode = GradMode::kAccumulate});
    const std::vector<float> y_cpu = host_values<float>(y_ref);
    EXPECT_EQ(values<float>(y), y_cpu);
    EXPECT_EQ(values<float>(dx), host_values<float>(dx_ref));
    // ... except accumulation, one FMA on the GPU (the CPU fuses it only when compiled with FMA).
    EXPECT_TRUE(testing::all_close(dx_acc, dx_acc_ref, 1e-6, 1e-7));
    // In place (y aliases x) gives the same.
    Tensor inplace = ops::cast_to(stream(), x, DType::kF32, f);
    ops::dropout_forward(stream(), {.x = inplace, .y = inplace, .mask = mask});
    EXPECT_EQ(values<float>(inplace), y_cpu);
    // f16 / bf16: the same elements are dropped (inputs are never 0).
    for (DType d : {DType::kF16, DType::kBF16}) {
      Tensor yh = dev_empty(c.shape, d, f);
      ops::dropout_forward(stream(), {.x = dev(x_h, d, f), .y = yh, .mask = mask});
      const std::vector<float> got = values<float>(yh);
      ASSERT_EQ(got.size(), y_cpu.size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i] == 0.0f, y_cpu[i] == 0.0f) << dtype_name(d) << " " << i;
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Convolution
// ------------------------------------------------------------------------------------------------------------

struct ConvTensors {
  Tensor x, w, b, dy;
};

TEST_F(ImageOpsTest, ConvAlgorithmCacheSearchesEachProblemOnce) {
  auto& conv = context().extension<cuda::CudnnConv>();
  conv.clear_plans();
  Generator rng(21);
  const Conv2dParams prm{.padding = 1};
  const Shape xs{3, 6, 11, 10}, ws{10, 6, 3, 3};
  const Shape ys = ops::conv2d_output_shape(xs, ws, prm);
  for (MemoryFormat f : {kNCHW, kNHWC}) {
    SCOPED_TRACE(format_name(f));
    const Tensor x = dev(testing::random_tensor(xs, DType::kF64, rng), DType::kF32, f);
    const Tensor w = dev(testing::random_tensor(ws, DType::kF64, rng));
    const Tensor b = dev(testing::random_tensor({10}, DType::kF64, rng));
    const Tensor dy = dev(testing::random_tensor(ys, DType::kF64, rng), DType::kF32, f);
    auto step = [&](Tensor& y, Tensor& dx, Tensor& dw, Tensor& db) {
      ops::conv2d_forward(stream(), {.x = x, .w = w, .b = b, .y = y, .params = prm});
      ops::conv2d_backward_data(stream(), {.dy = dy, .w = w, .dx = dx, .params = prm});
      ops::conv2d_backward_weight(stream(), {.dy = dy, .x = x, .dw = dw, .db = db, .params = prm});
    };
    Tensor y1 = dev_empty(ys, DType::kF32, f), dx1 = dev_empty(xs, DType::kF32, f), dw1 = dev_empty(ws),
           db1 = dev_empty({10});
    Tensor y2 = dev_empty(ys, DType::kF32, f), dx2 = dev_empty(xs, DType::kF32, f), dw2 = dev_empty(ws),
           db2 = dev_empty({10});
    const cuda::CudnnConv::Stats s0 = conv.stats();
    step(y1, dx1, dw1, db1);
    const cuda::CudnnConv::Stats s1 = conv.stats();
    EXPECT_EQ(s1.n_finds - s0.n_finds, 3);  // one search per direction
    EXPECT_EQ(s1.misses - s0.misses, 3);
    EXPECT_EQ(s1.n_plans - s0.n_plans, 3);
    for (int i = 0; i < 3; ++i) step(y2, dx2, dw2, db2);
    const cuda::CudnnConv::Stats s2 = conv.stats();
    EXPECT_EQ(s2.n_finds, s1.n_finds);  // no second search
    EXPECT_EQ(s2.misses, s1.misses);
    EXPECT_EQ(s2.hits - s1.hits, 9);
    // Deterministic algorithms: the same problem gives the same bits.
    EXPECT_EQ(values<float>(y2), values<float>(y1));
    EXPECT_EQ(values<float>(dx2), values<float>(dx1));
    EXPECT_EQ(values<float>(dw2), values<float>(dw1));
    EXPECT_EQ(values<float>(db2), values<float>(db1));
  }
}

TEST_F(ImageOpsTest, ConvGraphCaptureNeverSearches) {
  auto& conv = context().extension<cuda::CudnnConv>();
  conv.clear_plans();
  Generator rng(22);
  const Conv2dParams prm{.padding = 1};
  const Shape xs{2, 8, 12, 12}, ws{16, 8, 3, 3};
  const Shape ys = ops::conv2d_output_shape(xs, ws, prm);
  const Tensor x = dev(testing::random_tensor(xs, DType::kF64, rng), DType::kF32, kNHWC);
  const Tensor w = dev(testing::random_tensor(ws, DType::kF64, rng));
  Tensor y_eager = dev_empty(ys, DType::kF32, kNHWC), y_graph = dev_empty(ys, DType::kF32, kNHWC);
  // Eager warm-up: searches and caches; loads the kernels.
  ops::conv2d_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y_eager, .params = prm});
  stream().synchronize();
  const cuda::CudnnConv::Stats s0 = conv.stats();
  cuda::CudaGraph graph;
  {
    cuda::GraphCapture capture = graph.capture(stream());
    ops::conv2d_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y_graph, .params = prm});
    capture.finish();
  }
  graph.replay(stream());
  const cuda::CudnnConv::Stats s1 = conv.stats();
  EXPECT_EQ(s1.n_finds, s0.n_finds);
  EXPECT_EQ(s1.hits - s0.hits, 1);
  EXPECT_EQ(values<float>(y_graph), values<float>(y_eager));
  // Forget the plan: a capture now takes the heuristic choice (no search), cached as not searched ...
  conv.clear_plans();
  Tensor y_heuristic = dev_empty(ys, DType::kF32, kNHWC);
  cuda::CudaGraph graph2;
  {
    cuda::GraphCapture capture = graph2.capture(stream());
    ops::conv2d_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y_heuristic, .params = prm});
    capture.finish();
  }
  graph2.replay(stream());
  const cuda::CudnnConv::Stats s2 = conv.stats();
  EXPECT_EQ(s2.n_finds, s1.n_finds);
  EXPECT_EQ(s2.n_heuristic_choices - s1.n_heuristic_choices, 1);
  EXPECT_TRUE(testing::all_close(y_heuristic, y_eager, 1e-5, 1e-5));
  // ... and the next eager call upgrades it with a search.
  ops::conv2d_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y_eager, .params = prm});
  stream().synchronize();
  EXPECT_EQ(conv.stats().n_finds - s2.n_finds, 1);
}

TEST_F(ImageOpsTest, ConvAccumulateAddsToExistingGradientsInBothFormats) {
  struct Case {
    std::string name;
    Shape xs, ws;
    Conv2dParams prm;
  };
  const Case cases[] = {{"3x3", {2, 6, 9, 8}, {12, 6, 3, 3}, {.padding = 1}},           // KRSC reorder in NHWC
                        {"groups", {2, 8, 7, 7}, {12, 4, 3, 3}, {.padding = 1, .groups = 2}},
                        {"depthwise", {2, 8, 7, 7}, {8, 1, 3, 3}, {.stride = 2, .padding = 1, .groups = 8}},
                        {"1x1", {2, 8, 6, 6}, {16, 8, 1, 1}, {}}};
  Generator rng(23);
  for (const Case& c : cases) {
    const Shape ys = ops::conv2d_output_shape(c.xs, c.ws, c.prm);
    const Tensor x_h = testing::random_tensor(c.xs, DType::kF64, rng);
    const Tensor w_h = testing::random_tensor(c.ws, DType::kF64, rng);
    const Tensor b_h = testing::random_tensor({c.ws[0]}, DType::kF64, rng);
    const Tensor dy_h = testing::random_tensor(ys, DType::kF64, rng);
    // Reference (f64 loops): overwrite results; the accumulate results are these + 0.5.
    Tensor y_ref = Tensor::empty(ys, DType::kF64), dx_ref = Tensor::empty(c.xs, DType::kF64);
    Tensor dw_ref = Tensor::empty(c.ws, DType::kF64), db_ref = Tensor::empty({c.ws[0]}, DType::kF64);
    {
      testing::ReferenceModeGuard guard(true);
      ops::conv2d_forward(cpu(), {.x = x_h, .w = w_h, .b = b_h, .y = y_ref, .params = c.prm,
                                  .activation = Activation::kReLU});
      ops::conv2d_backward_data(cpu(), {.dy = dy_h, .w = w_h, .dx = dx_ref, .params = c.prm});
      ops::conv2d_backward_weight(cpu(), {.dy = dy_h, .x = x_h, .dw = dw_ref, .db = db_ref, .params = c.prm});
    }
    auto plus_half = [&](const Tensor& t) {
      Tensor out = Tensor::empty(t.shape(), DType::kF64);
      ops::axpby(cpu(), {.a = t, .b = ops::full(cpu(), t.shape(), DType::kF64, 0.5), .out = out, .alpha = 1.0,
                         .beta = 1.0});
      return out;
    };
    for (MemoryFormat f : {kNCHW, kNHWC}) {
      SCOPED_TRACE(c.name + "/" + format_name(f));
      const Tensor x = dev(x_h, DType::kF32, f), w = dev(w_h), b = dev(b_h), dy = dev(dy_h, DType::kF32, f);
      Tensor y = dev_empty(ys, DType::kF32, f);
      ops::conv2d_forward(stream(), {.x = x, .w = w, .b = b, .y = y, .params = c.prm, .activation = Activation::kReLU});
      EXPECT_TRUE(testing::all_close(y, y_ref, 1e-4, 1e-4));
      Tensor dx = dev_full(c.xs, 0.5, f), dw = dev_full(c.ws, 0.5), db = dev_full({c.ws[0]}, 0.5);
      ops::conv2d_backward_data(stream(), {.dy = dy, .w = w, .dx = dx, .params = c.prm, .mode = GradMode::kAccumulate});
      ops::conv2d_backward_weight(
          stream(), {.dy = dy, .x = x, .dw = dw, .db = db, .params = c.prm, .mode = GradMode::kAccumulate});
      EXPECT_TRUE(testing::all_close(dx, plus_half(dx_ref), 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(dw, plus_half(dw_ref), 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(db, plus_half(db_ref), 1e-4, 1e-4));
      // Overwrite mode ignores what was there; a bias-only weight gradient works too.
      Tensor dw2 = dev_full(c.ws, 7.0), db2 = dev_full({c.ws[0]}, 7.0);
      ops::conv2d_backward_weight(stream(), {.dy = dy, .x = x, .dw = dw2, .db = kNoTensor, .params = c.prm});
      ops::conv2d_backward_weight(stream(), {.dy = dy, .x = x, .dw = kNoTensor, .db = db2, .params = c.prm});
      EXPECT_TRUE(testing::all_close(dw2, dw_ref, 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(db2, db_ref, 1e-4, 1e-4));
    }
  }
}

TEST_F(ImageOpsTest, EmptyBatchesAreNoOpsOrZeros) {
  const Conv2dParams prm{.padding = 1};
  const Tensor x = dev_empty({0, 4, 5, 5}), dy = dev_empty({0, 6, 5, 5}), y = dev_empty({0, 6, 5, 5});
  const Tensor w = dev_full({6, 4, 3, 3}, 1.0), dx = dev_empty({0, 4, 5, 5});
  ops::conv2d_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y, .params = prm});
  ops::conv2d_backward_data(stream(), {.dy = dy, .w = w, .dx = dx, .params = prm});
  Tensor dw = dev_full({6, 4, 3, 3}, 3.0), db = dev_full({6}, 3.0);
  ops::conv2d_backward_weight(stream(), {.dy = dy, .x = x, .dw = dw, .db = db, .params = prm,
                                         .mode = GradMode::kAccumulate});
  EXPECT_EQ(values<float>(dw), std::vector<float>(6 * 4 * 9, 3.0f));  // + an empty sum
  EXPECT_EQ(values<float>(db), std::vector<float>(6, 3.0f));
  ops::conv2d_backward_weight(stream(), {.dy = dy, .x = x, .dw = dw, .db = db, .params = prm});
  EXPECT_EQ(values<float>(dw), std::vector<float>(6 * 4 * 9, 0.0f));  // = an empty sum
  EXPECT_EQ(values<float>(db), std::vector<float>(6, 0.0f));
  const Pool2dParams pp{};
  const Tensor px = dev_empty({0, 3, 4, 4}), py = dev_empty({0, 3, 2, 2});
  const Tensor idx = Tensor::empty({0, 3, 2, 2}, DType::kI32, context().allocator());
  ops::max_pool2d_forward(stream(), {.x = px, .y = py, .indices = idx, .params = pp});
  ops::avg_pool2d_backward(stream(), {.dy = py, .dx = px, .params = pp});
  ops::global_avg_pool2d_forward(stream(), {.x = px, .y = dev_empty({0, 3}), .indices = kNoTensor});
  const Tensor flat = dev_empty({0});
  ops::dropout_forward(stream(), {.x = flat, .y = flat, .mask = {}});
  stream().synchronize();
}

// ------------------------------------------------------------------------------------------------------------
// Batch norm
// ------------------------------------------------------------------------------------------------------------

TEST_F(ImageOpsTest, BatchNormGradientModesAndMultiChunkReductions) {
  // (64, 3, 32, 32): 65536 values per channel, reduced through many partial blocks in both layouts.
  for (const Shape& shape : {Shape{64, 3, 32, 32}, Shape{5, 7, 3, 4}}) {
    const int64_t c = shape[1];
    Generator rng(31);
    const Tensor x_h = testing::random_tensor(shape, DType::kF64, rng, 2.0, 4.0);  // mean far from 0
    const Tensor dy_h = testing::random_tensor(shape, DType::kF64, rng);
    const Tensor gamma_h = testing::random_tensor({c}, DType::kF64, rng, 0.5, 1.5);
    const Tensor beta_h = testing::random_tensor({c}, DType::kF64, rng);
    // Reference (f64): training forward, then backward with both modes as overwrite.
    Tensor y_ref = Tensor::empty(shape, DType::kF64), mean_ref = Tensor::empty({c}, DType::kF64),
           invstd_ref = Tensor::empty({c}, DType::kF64), dx_ref = Tensor::empty(shape, DType::kF64),
           dgamma_ref = Tensor::empty({c}, DType::kF64), dbeta_ref = Tensor::empty({c}, DType::kF64);
    Tensor rm_ref = ops::zeros(cpu(), {c}, DType::kF64), rv_ref = ops::full(cpu(), {c}, DType::kF64, 1.0);
    {
      testing::ReferenceModeGuard guard(true);
      ops::batch_norm_forward_training(cpu(), {.x = x_h, .gamma = gamma_h, .beta = beta_h, .y = y_ref,
                                               .running_mean = rm_ref, .running_var = rv_ref,
                                               .save_mean = mean_ref, .save_invstd = invstd_ref});
      ops::batch_norm_backward(cpu(), {.dy = dy_h, .x = x_h, .gamma = gamma_h, .save_mean = mean_ref,
                                       .save_invstd = invstd_ref, .dx = dx_ref, .dgamma = dgamma_ref,
                                       .dbeta = dbeta_ref});
    }
    for (MemoryFormat f : {kNCHW, kNHWC}) {
      SCOPED_TRACE(shape.to_string() + " " + format_name(f));
      const Tensor x = dev(x_h, DType::kF32, f), dy = dev(dy_h, DType::kF32, f);
      const Tensor gamma = dev(gamma_h), beta = dev(beta_h);
      Tensor y = dev_empty(shape, DType::kF32, f), mean = dev_empty({c}), invstd = dev_empty({c});
      Tensor rm = dev_full({c}, 0.0), rv = dev_full({c}, 1.0);
      ops::batch_norm_forward_training(stream(), {.x = x, .gamma = gamma, .beta = beta, .y = y,
                                                  .running_mean = rm, .running_var = rv, .save_mean = mean,
                                                  .save_invstd = invstd});
      EXPECT_TRUE(testing::all_close(y, y_ref, 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(mean, mean_ref, 1e-6, 1e-6));
      EXPECT_TRUE(testing::all_close(invstd, invstd_ref, 1e-5, 1e-6));
      EXPECT_TRUE(testing::all_close(rm, rm_ref, 1e-6, 1e-6));
      EXPECT_TRUE(testing::all_close(rv, rv_ref, 1e-5, 1e-6));
      // dx accumulates onto 1, parameters overwrite; dgamma alone (no dbeta).
      Tensor dx = dev_full(shape, 1.0, f), dgamma = dev_full({c}, 9.0);
      ops::batch_norm_backward(stream(), {.dy = dy, .x = x, .gamma = gamma, .save_mean = mean,
                                          .save_invstd = invstd, .dx = dx, .dgamma = dgamma, .dbeta = kNoTensor,
                                          .dx_mode = GradMode::kAccumulate});
      Tensor dx_plus_one = Tensor::empty(shape, DType::kF64);
      ops::axpby(cpu(), {.a = dx_ref, .b = ops::full(cpu(), shape, DType::kF64, 1.0), .out = dx_plus_one,
                         .alpha = 1.0, .beta = 1.0});
      EXPECT_TRUE(testing::all_close(dx, dx_plus_one, 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(dgamma, dgamma_ref, 1e-4, 1e-4));
      // No dx; parameters accumulate onto what is there (dgamma: 2x, dbeta: onto 0).
      Tensor dbeta = dev_full({c}, 0.0);
      ops::batch_norm_backward(stream(), {.dy = dy, .x = x, .gamma = gamma, .save_mean = mean,
                                          .save_invstd = invstd, .dx = kNoTensor, .dgamma = dgamma, .dbeta = dbeta,
                                          .param_mode = GradMode::kAccumulate});
      Tensor twice = Tensor::empty({c}, DType::kF64);
      ops::axpby(cpu(), {.a = dgamma_ref, .b = dgamma_ref, .out = twice, .alpha = 1.0, .beta = 1.0});
      EXPECT_TRUE(testing::all_close(dgamma, twice, 1e-4, 1e-4));
      EXPECT_TRUE(testing::all_close(dbeta, dbeta_ref, 1e-4, 1e-4));
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Pooling
// ------------------------------------------------------------------------------------------------------------

TEST_F(ImageOpsTest, MaxPoolTiesAndOverlapMatchTheCpuBitForBit) {
  const Shape xs{2, 5, 9, 8};
  const Pool2dParams p{.kernel = 3, .stride = 1, .padding = 1};  // every input in up to 9 windows
  const Shape ys = ops::pool2d_output_shape(xs, p);
  Generator rng(41);
  // Values from a small set: many ties inside windows.
  Tensor x_h = testing::random_tensor(xs, DType::kF64, rng, 0.0, 4.0);
  {
    double* v = x_h.data_as<double>();
    for (int64_t i = 0; i < x_h.numel(); ++i) v[i] = std::floor(v[i]);
  }
  const Tensor dy_h = testing::random_tensor(ys, DType::kF64, rng);
  for (MemoryFormat f : {kNCHW, kNHWC}) {
    SCOPED_TRACE(format_name(f));
    const Tensor xc = host(x_h, f), dyc = host(dy_h, f);
    Tensor y_ref = Tensor::empty(ys, DType::kF32, cpu_context().allocator(), f);
    Tensor i_ref = Tensor::empty(ys, DType::kI32, cpu_context().allocator(), f);
    Tensor dx_ref = Tensor::empty(xs, DType::kF32, cpu_context().allocator(), f);
    ops::max_pool2d_forward(cpu(), {.x = xc, .y = y_ref, .indices = i_ref, .params = p});
    ops::max_pool2d_backward(cpu(), {.dy = dyc, .indices = i_ref, .dx = dx_ref, .params = p});
    const Tensor x = dev(x_h, DType::kF32, f), dy = dev(dy_h, DType::kF32, f);
    Tensor y = dev_empty(ys, DType::kF32, f), dx = dev_empty(xs, DType::kF32, f);
    Tensor idx = Tensor::empty(ys, DType::kI32, context().allocator(), f);
    ops::max_pool2d_forward(stream(), {.x = x, .y = y, .indices = idx, .params = p});
    ops::max_pool2d_backward(stream(), {.dy = dy, .indices = idx, .dx = dx, .params = p});
    EXPECT_EQ(values<float>(y), host_values<float>(y_ref));
    EXPECT_EQ(values<int32_t>(idx), host_values<int32_t>(i_ref));
    EXPECT_EQ(values<float>(dx), host_values<float>(dx_ref));  // same addition order
  }
}

TEST_F(ImageOpsTest, GlobalMaxPoolFollowsTheCpuTieAndNanRules) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int64_t hw = 7 * 9;  // > 32: several lanes per plane
  std::vector<float> v(static_cast<size_t>(4 * hw), 0.0f);
  auto at = [&](int plane, int64_t j) -> float& { return v[static_cast<size_t>(plane * hw + j)]; };
  for (int plane = 0; plane < 4; ++plane)
    for (int64_t j = 0; j < hw; ++j) at(plane, j) = static_cast<float>((j * 7 + plane) % 5) - 10.0f;
  at(0, 0) = nan;                       // NaN first: the answer (index 0)
  at(1, 5) = nan;                       // NaN later: ignored
  at(1, 40) = 3.0f;
  at(2, 10) = 3.0f;                     // ties: the first maximum wins
  at(2, 41) = 3.0f;
  for (int64_t j = 0; j < hw; ++j) at(3, j) = -INFINITY;  // all equal
  const Tensor x_h = Tensor::from_values(v, {2, 2, 7, 9});
  for (MemoryFormat f : {kNCHW, kNHWC}) {
    SCOPED_TRACE(format_name(f));
    const Tensor xc = ops::cast_to(cpu(), x_h, DType::kF32, f);
    Tensor y_ref = Tensor::empty({2, 2}, DType::kF32), i_ref = Tensor::empty({2, 2}, DType::kI32);
    ops::global_max_pool2d_forward(cpu(), {.x = xc, .y = y_ref, .indices = i_ref});
    EXPECT_EQ(i_ref.to_vector<int32_t>(), (std::vector<int32_t>{0, 40, 10, 0}));
    const Tensor x = ops::cast_to(stream(), to_device(x_h), DType::kF32, f);
    Tensor y = dev_empty({2, 2}), idx = Tensor::empty({2, 2}, DType::kI32, context().allocator());
    ops::global_max_pool2d_forward(stream(), {.x = x, .y = y, .indices = idx});
    EXPECT_EQ(values<int32_t>(idx), i_ref.to_vector<int32_t>());
    const std::vector<float> got = values<float>(y), want = y_ref.to_vector<float>();
    EXPECT_TRUE(std::isnan(got[0]) && std::isnan(want[0]));
    for (size_t i = 1; i < 4; ++i) EXPECT_EQ(got[i], want[i]) << i;
  }
}

}  // namespace
}  // namespace sprint
