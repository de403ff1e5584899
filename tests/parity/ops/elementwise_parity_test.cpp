// elementwise_parity_test.cpp: fill, cast/copy (incl. layout changes), ReLU, axpby on every backend.
#include <cmath>

#include <gtest/gtest.h>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

TEST(ElementwiseParity, ReluForwardBackward) {
  testing::run_parity(ParityCase{
      .name = "relu",
      .make_inputs = [](Generator& rng) {
        return std::vector<Tensor>{testing::random_tensor({1000}, DType::kF64, rng),
                                   testing::random_tensor({1000}, DType::kF64, rng)};
      },
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        Tensor y = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator());
        Tensor dx = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator());
        ops::relu_forward(s, v[0], y);
        ops::relu_backward(s, {.dy = v[1], .y = y, .dx = dx});
        return std::vector<Tensor>{y, dx};
      }});
}

TEST(ElementwiseParity, GeluForwardBackward) {
  for (const GradMode mode : {GradMode::kOverwrite, GradMode::kAccumulate}) {
    testing::run_parity(ParityCase{
        .name = mode == GradMode::kOverwrite ? "gelu" : "gelu/accumulate",
        .make_inputs = [](Generator& rng) {
          return std::vector<Tensor>{testing::random_tensor({1000}, DType::kF64, rng, -4.0, 4.0),
                                     testing::random_tensor({1000}, DType::kF64, rng),
                                     testing::random_tensor({1000}, DType::kF64, rng)};
        },
        .run = [mode](const Stream& s, const std::vector<Tensor>& v) {
          Tensor y = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator());
          Tensor dx = ops::cast_to(s, v[2], v[2].dtype());
          ops::gelu_forward(s, v[0], y);
          ops::gelu_backward(s, {.dy = v[1], .x = v[0], .dx = dx, .mode = mode});
          return std::vector<Tensor>{y, dx};
        }});
  }
}

TEST(ElementwiseParity, AxpbyWithoutSecondOperand) {
  testing::run_parity(ParityCase{
      .name = "axpby/beta0",
      .make_inputs = [](Generator& rng) {
        return std::vector<Tensor>{testing::random_tensor({300}, DType::kF64, rng)};
      },
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        Tensor nan = ops::full(s, v[0].shape(), v[0].dtype(), std::nan(""));
        Tensor out = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator());
        ops::axpby(s, {.a = v[0], .b = nan, .out = out, .alpha = 1.0 / 9.0, .beta = 0.0});
        return std::vector<Tensor>{out};
      }});
}

TEST(ElementwiseParity, AxpbyAndFill) {
  testing::run_parity(ParityCase{
      .name = "axpby",
      .make_inputs = [](Generator& rng) {
        return std::vector<Tensor>{testing::random_tensor({77}, DType::kF64, rng),
                                   testing::random_tensor({77}, DType::kF64, rng)};
      },
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        Tensor out = Tensor::empty(v[0].shape(), v[0].dtype(), s.context().allocator());
        ops::axpby(s, {.a = v[0], .b = v[1], .out = out, .alpha = 0.5, .beta = -2.0});
        Tensor filled = ops::full(s, {5, 3}, v[0].dtype(), 0.25);
        return std::vector<Tensor>{out, filled};
      }});
}

TEST(ElementwiseParity, LayoutConversion) {
  testing::run_parity(ParityCase{
      .name = "copy/nchw<->nhwc",
      .make_inputs = [](Generator& rng) {
        return std::vector<Tensor>{testing::random_tensor({2, 3, 4, 5}, DType::kF64, rng)};
      },
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        Tensor nhwc = ops::cast_to(s, v[0], v[0].dtype(), MemoryFormat::kChannelsLast);
        Tensor back = ops::cast_to(s, nhwc, v[0].dtype(), MemoryFormat::kContiguous);
        return std::vector<Tensor>{nhwc, back};
      }});
}

// Blocked weights (CPU only) convert to and from KCRS, f32 and f64, and between the two block sizes; values land
// in their logical places and the padding stays 0.
TEST(Elementwise, BlockedWeightsRoundTrip) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  Generator rng(3);
  const Tensor w = testing::random_tensor({13, 6, 3, 2}, DType::kF64, rng);
  for (DType d : {DType::kF32, DType::kF64}) {
    const Tensor b8 = ops::cast_to(s, w, d, MemoryFormat::kWeightsBlocked8);
    const Tensor b16 = ops::cast_to(s, b8, d, MemoryFormat::kWeightsBlocked16);
    const Tensor back = ops::cast_to(s, b16, DType::kF64);
    EXPECT_TRUE(back.is_contiguous());
    EXPECT_EQ(back.to_vector<double>(), ops::cast_to(s, w, d).to_vector<double>()) << dtype_name(d);
    EXPECT_EQ(b8.to_vector<double>(), back.to_vector<double>());
    const Tensor f = ops::full(s, w.shape(), d, 2.0, MemoryFormat::kWeightsBlocked8);
    const std::vector<double> storage = ops::cast_to(s, Tensor::wrap(f.data(), {f.storage_numel()}, d), DType::kF64)
                                            .to_vector<double>();
    double sum = 0.0;
    for (double v : storage) sum += v;
    EXPECT_EQ(sum, 2.0 * static_cast<double>(w.numel())) << "full() wrote padding";
  }
}

TEST(Elementwise, CastBetweenAllDtypesOnHost) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  Tensor src = Tensor::from_values(std::vector<float>{-1.5f, 0.0f, 2.25f, 200.0f}, {4});
  for (DType d : {DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
    Tensor there = ops::cast_to(s, src, d);
    Tensor back = ops::cast_to(s, there, DType::kF32);
    const std::vector<float> v = back.to_vector<float>();
    if (dtype_is_floating(d)) {
      EXPECT_EQ(v, (std::vector<float>{-1.5f, 0.0f, 2.25f, 200.0f})) << dtype_name(d);
    } else {
      EXPECT_EQ(v, (std::vector<float>{-1.0f, 0.0f, 2.0f, 200.0f})) << dtype_name(d);
    }
  }
  Tensor u8 = ops::cast_to(s, Tensor::from_values(std::vector<float>{3.0f, 255.0f}, {2}), DType::kU8);
  EXPECT_EQ(u8.to_vector<int32_t>(), (std::vector<int32_t>{3, 255}));
}

}  // namespace
}  // namespace sprint
