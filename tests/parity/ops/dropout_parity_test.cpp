// dropout_parity_test.cpp: dropout forward/backward on every backend vs the CPU loops in f64: the Philox mask
// must be the same bit for bit (a wrong mask shows up as a zero against a non-zero), in both memory formats.
#include <gtest/gtest.h>

#include "sprint/ops/dropout.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

void run_dropout_case(const Shape& shape, double p, MemoryFormat format, bool accumulate) {
  ParityCase c{
      .name = "dropout/p" + std::to_string(p) + ("/" + std::string(memory_format_name(format))) +
              (accumulate ? "/acc" : ""),
      .make_inputs =
          [=](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor(shape, DType::kF64, rng, 0.5, 1.5),
                                       testing::random_tensor(shape, DType::kF64, rng, 0.5, 1.5)};
          },
      .run =
          [=](const Stream& s, const std::vector<Tensor>& v) {
            const Tensor &x = v[0], &dy = v[1];
            const MemoryFormat f = x.ndim() == 4 ? x.memory_format() : MemoryFormat::kContiguous;
            Tensor y = Tensor::empty(shape, x.dtype(), s.context().allocator(), f);
            Tensor dx = Tensor::empty(shape, x.dtype(), s.context().allocator(), f);
            const DropoutMask mask{.p = p, .seed = 1234567, .offset = 1000};
            ops::dropout_forward(s, {.x = x, .y = y, .mask = mask});
            ops::dropout_backward(s, {.dy = dy, .dx = dx, .mask = mask});
            if (accumulate)
              ops::dropout_backward(s, {.dy = dy, .dx = dx, .mask = mask, .mode = GradMode::kAccumulate});
            return std::vector<Tensor>{y, dx};
          },
      .input_format = format};
  testing::run_parity(c);
}

TEST(DropoutParity, ImagesBothFormats) {
  run_dropout_case({4, 6, 5, 7}, 0.5, MemoryFormat::kContiguous, false);
  run_dropout_case({4, 6, 5, 7}, 0.5, MemoryFormat::kChannelsLast, false);
  run_dropout_case({4, 6, 5, 7}, 0.2, MemoryFormat::kChannelsLast, true);
  run_dropout_case({4, 6, 5, 7}, 0.5, MemoryFormat::kChannelsBlocked8, false);
  run_dropout_case({4, 6, 5, 7}, 0.2, MemoryFormat::kChannelsBlocked16, true);
}

TEST(DropoutParity, FlatFeatures) {
  run_dropout_case({64, 129}, 0.3, MemoryFormat::kContiguous, false);
}

}  // namespace
}  // namespace sprint
