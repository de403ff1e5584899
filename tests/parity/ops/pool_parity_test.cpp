// pool_parity_test.cpp: max / average pooling (with indices, padding, overlap, accumulate) and global pooling
// on every backend vs the CPU reference, in NCHW and NHWC (and, on the CPU, channel-blocked by 8 and 16).
#include <gtest/gtest.h>

#include "sprint/ops/pool.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

Tensor like(const Stream& s, const Shape& shape, DType dtype, MemoryFormat format) {
  return Tensor::empty(shape, dtype, s.context().allocator(), format);
}

void run_window_case(const std::string& name, const Shape& x_shape, Pool2dParams p, bool accumulate,
                     MemoryFormat format) {
  const Shape y_shape = ops::pool2d_output_shape(x_shape, p);
  ParityCase c{.name = name + "/" + memory_format_name(format),
               .make_inputs =
                   [=](Generator& rng) {
                     return std::vector<Tensor>{testing::random_tensor(x_shape, DType::kF64, rng),
                                                testing::random_tensor(y_shape, DType::kF64, rng)};
                   },
               .run =
                   [=](const Stream& s, const std::vector<Tensor>& v) {
                     const Tensor &x = v[0], &dy = v[1];
                     const MemoryFormat f = x.memory_format();
                     Tensor y = like(s, y_shape, x.dtype(), f), idx = like(s, y_shape, DType::kI32, f);
                     Tensor dx = like(s, x_shape, x.dtype(), f), y_avg = like(s, y_shape, x.dtype(), f);
                     Tensor dx_avg = like(s, x_shape, x.dtype(), f);
                     const GradMode mode = accumulate ? GradMode::kAccumulate : GradMode::kOverwrite;
                     ops::max_pool2d_forward(s, {.x = x, .y = y, .indices = idx, .params = p});
                     ops::avg_pool2d_forward(s, {.x = x, .y = y_avg, .params = p});
                     for (int pass = 0; pass < (accumulate ? 2 : 1); ++pass) {
                       const GradMode m = pass == 0 ? GradMode::kOverwrite : mode;
                       ops::max_pool2d_backward(s,
                                                {.dy = dy, .indices = idx, .dx = dx, .params = p, .mode = m});
                       ops::avg_pool2d_backward(s, {.dy = dy, .dx = dx_avg, .params = p, .mode = m});
                     }
                     return std::vector<Tensor>{y, idx, dx, y_avg, dx_avg};
                   },
               .input_format = format};
  testing::run_parity(c);
}

// The reference sees the inputs the backend sees: 1 and 1 + 2^-10 differ in f32 but are one value in bf16, where
// the max-pool's first maximum (index 0) wins; from unrounded inputs the reference would say index 1.
TEST(PoolParity, ReferenceUsesInputsRoundedToTheTestedDtype) {
  SPRINT_PARITY_HOST_ONLY();
  const Pool2dParams p{.kernel = 2, .stride = 2};
  ParityCase c{.name = "max_pool/rounded-reference",
               .make_inputs = [](Generator&) {
                 return std::vector<Tensor>{Tensor::from_values(std::vector<double>{1.0, 1.0 + 1.0 / 1024, 0.5, 0.25},
                                                                {1, 1, 2, 2})};
               },
               .run = [=](const Stream& s, const std::vector<Tensor>& v) {
                 const Shape y_shape = ops::pool2d_output_shape(v[0].shape(), p);
                 Tensor y = like(s, y_shape, v[0].dtype(), MemoryFormat::kContiguous);
                 Tensor idx = like(s, y_shape, DType::kI32, MemoryFormat::kContiguous);
                 ops::max_pool2d_forward(s, {.x = v[0], .y = y, .indices = idx, .params = p});
                 return std::vector<Tensor>{y, idx};
               }};
  Generator rng(1);
  const std::vector<Tensor> in = c.make_inputs(rng);
  EXPECT_EQ(testing::reference_outputs(c, in, DType::kF32)[1].to_vector<int32_t>(), std::vector<int32_t>{1});
  EXPECT_EQ(testing::reference_outputs(c, in, DType::kBF16)[1].to_vector<int32_t>(), std::vector<int32_t>{0});
  EXPECT_EQ(testing::reference_outputs(c, in, DType::kBF16)[0].to_vector<double>(), std::vector<double>{1.0});
}

void run_window_both(const std::string& name, const Shape& x_shape, Pool2dParams p, bool accumulate = false) {
  run_window_case(name, x_shape, p, accumulate, MemoryFormat::kContiguous);
  run_window_case(name, x_shape, p, accumulate, MemoryFormat::kChannelsLast);
  run_window_case(name, x_shape, p, accumulate, MemoryFormat::kChannelsBlocked8);
  run_window_case(name, x_shape, p, accumulate, MemoryFormat::kChannelsBlocked16);
}

TEST(PoolParity, CnnShapes) {
  run_window_both("pool/cnn1", {4, 32, 28, 28}, {.kernel = 2, .stride = 2});
  run_window_both("pool/cnn2", {4, 64, 14, 14}, {.kernel = 2, .stride = 2});
}
TEST(PoolParity, OverlappingPadded) {
  run_window_both("pool/3x3s2p1", {2, 8, 9, 8}, {3, 2, 1});
}
TEST(PoolParity, ExcludePadding) {
  run_window_both("pool/exclude-pad", {2, 5, 7, 7},
                  {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false});
}
TEST(PoolParity, OddInputAndAccumulate) {
  run_window_both("pool/odd-acc", {3, 6, 7, 5}, {2, 2, 0}, true);
}

void run_global_case(MemoryFormat format, bool accumulate) {
  const Shape x_shape{3, 20, 5, 7};
  ParityCase c{
      .name = std::string("global-pool") + (accumulate ? "/acc" : "") +
              "/" + memory_format_name(format),
      .make_inputs =
          [=](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor(x_shape, DType::kF64, rng),
                                       testing::random_tensor({3, 20}, DType::kF64, rng)};
          },
      .run =
          [=](const Stream& s, const std::vector<Tensor>& v) {
            const Tensor &x = v[0], &dy = v[1];
            const MemoryFormat f = x.memory_format();
            Tensor y_avg = like(s, {3, 20}, x.dtype(), MemoryFormat::kContiguous);
            Tensor y_max = like(s, {3, 20}, x.dtype(), MemoryFormat::kContiguous);
            Tensor idx = like(s, {3, 20}, DType::kI32, MemoryFormat::kContiguous);
            Tensor dx_avg = like(s, x_shape, x.dtype(), f), dx_max = like(s, x_shape, x.dtype(), f);
            ops::global_avg_pool2d_forward(s, {.x = x, .y = y_avg, .indices = kNoTensor});
            ops::global_max_pool2d_forward(s, {.x = x, .y = y_max, .indices = idx});
            for (int pass = 0; pass < (accumulate ? 2 : 1); ++pass) {
              const GradMode m = pass == 0 ? GradMode::kOverwrite : GradMode::kAccumulate;
              ops::global_avg_pool2d_backward(s, {.dy = dy, .indices = kNoTensor, .dx = dx_avg, .mode = m});
              ops::global_max_pool2d_backward(s, {.dy = dy, .indices = idx, .dx = dx_max, .mode = m});
            }
            return std::vector<Tensor>{y_avg, y_max, idx, dx_avg, dx_max};
          },
      .input_format = format};
  testing::run_parity(c);
}

TEST(PoolParity, Global) {
  for (bool acc : {false, true}) {
    run_global_case(MemoryFormat::kContiguous, acc);
    run_global_case(MemoryFormat::kChannelsLast, acc);
    run_global_case(MemoryFormat::kChannelsBlocked8, acc);
    run_global_case(MemoryFormat::kChannelsBlocked16, acc);
  }
}

}  // namespace
}  // namespace sprint
