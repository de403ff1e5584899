// batch_norm_test.cpp: BatchNorm2d numbers against PyTorch 1.13 (torch.nn.BatchNorm2d(3, eps=1e-5,
// momentum=0.1), weight [1.5, 0.5, -1], bias [0.1, -0.2, 0.3], inputs sin/cos ramps): training output,
// running statistics after one and two steps (unbiased running variance), eval output; f64 (reference loops)
// and f32 (oneDNN), both formats.
#include <gtest/gtest.h>

#include <cmath>

#include "sprint/nn/batch_norm.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

// Values printed by PyTorch (float64 module and parameters) for the setup above.
const std::vector<double> kTrainOut = {
    -1.9631832574093466, 0.33003336600628863, 0.6331296642793384,   -1.214307238706794,   -0.7904106171062757,
    -0.9129016604716412, -0.3254887893360916, 0.46877895155788835,  -0.33700133789463743, 0.3084232308910747,
    1.417680917678606,   1.9146510775559933,  -1.8000236691615104,  0.7897104211338151,   2.3857287742970668,
    1.6389119395611427,  0.07028517674595482, -0.4317629348260145,  -0.2220761775352521,  0.5435760509714318,
    -0.9779543560437788, -0.9457717270860835, 0.028054160820148256, 0.9919180340786794};
const std::vector<double> kRunningMean1 = {0.16040944335929097, 0.035285837122386275, 0.1737998647555794};
const std::vector<double> kRunningVar1 = {1.055437400899391, 1.0762638519232146, 1.2050532345838816};
const std::vector<double> kRunningMean2 = {0.15421273720782133, 0.04026811392198711, -0.05471951566700117};
const std::vector<double> kRunningVar2 = {1.524572273241139, 1.4946049516558702, 1.316381052856361};
const std::vector<double> kEvalOut = {
    -0.08734239670022784, 2.078630582011071,    2.3649089847155755,   0.6199807599314681,
    -0.6719145782542467,  -0.7963450465013644,  -0.19963155136228158, 0.607211987542236,
    -2.1695677662791355,  -1.2505039047960422,  0.32904342312297,     1.0367129731651947,
    0.06676396017595057,  2.5128015496263485,   4.020261678416962,    3.314883447870474,
    0.20240878209064056,  -0.30758835638703524, -0.09458158725466734, 0.6831933642033234,
    -3.0822642832364453,  -3.036437252979162,   -1.6497404579762192,  -0.2772292519530888};

Tensor ramp(bool cosine, DType dtype, MemoryFormat format) {
  std::vector<double> v(24);
  for (size_t i = 0; i < v.size(); ++i) {
    const double t = static_cast<double>(i);
    v[i] = cosine ? std::cos(t) * 3.0 - 0.05 * t : std::sin(t) * 2.0 + 0.1 * t;
  }
  return ops::cast_to(cpu_context().compute_stream(), Tensor::from_values(v, {2, 3, 2, 2}), dtype, format);
}

void expect_values(const Tensor& t, const std::vector<double>& expected, double tol, const char* what) {
  const std::vector<double> got = t.to_vector<double>();  // logical order, whatever the layout
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << what << "[" << i << "]";
}

void check_against_pytorch(DType dtype, MemoryFormat format, double tol) {
  SCOPED_TRACE(std::string(dtype_name(dtype)) + (format == MemoryFormat::kChannelsLast ? " NHWC" : " NCHW"));
  BatchNorm2d bn(BatchNormOptions(3).with_dtype(dtype));
  const Stream s = cpu_context().compute_stream();
  bn.weight()->set_value(
      ops::cast_to(s, Tensor::from_values(std::vector<double>{1.5, 0.5, -1.0}, {3}), dtype));
  bn.bias()->set_value(ops::cast_to(s, Tensor::from_values(std::vector<double>{0.1, -0.2, 0.3}, {3}), dtype));
  RunContext ctx{s};
  bn.train();
  const Tensor y1 = bn.forward(ctx, ramp(false, dtype, format));
  EXPECT_EQ(y1.memory_format(), format);
  expect_values(y1, kTrainOut, tol, "training output");
  expect_values(bn.running_mean(), kRunningMean1, tol, "running_mean after 1 step");
  expect_values(bn.running_var(), kRunningVar1, tol, "running_var after 1 step");
  bn.forward(ctx, ramp(true, dtype, format));
  expect_values(bn.running_mean(), kRunningMean2, tol, "running_mean after 2 steps");
  expect_values(bn.running_var(), kRunningVar2, tol, "running_var after 2 steps");
  bn.eval();
  expect_values(bn.forward(ctx, ramp(false, dtype, format)), kEvalOut, tol, "eval output");
  // Eval mode leaves the running statistics alone.
  expect_values(bn.running_mean(), kRunningMean2, tol, "running_mean after eval");
}

TEST(BatchNorm2d, MatchesPytorchF64) {
  check_against_pytorch(DType::kF64, MemoryFormat::kContiguous, 1e-12);
  check_against_pytorch(DType::kF64, MemoryFormat::kChannelsLast, 1e-12);
}

TEST(BatchNorm2d, MatchesPytorchF32) {
  check_against_pytorch(DType::kF32, MemoryFormat::kContiguous, 2e-5);
  check_against_pytorch(DType::kF32, MemoryFormat::kChannelsLast, 2e-5);
}

TEST(BatchNorm2d, ParametersBuffersAndOptions) {
  BatchNorm2d bn(BatchNormOptions(8));
  auto named = bn.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[1].first, "bias");
  auto buffers = bn.named_buffers();
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].name, "running_mean");
  EXPECT_EQ(buffers[1].name, "running_var");
  EXPECT_EQ(buffers[1].value.to_vector<float>(), std::vector<float>(8, 1.0f));
  BatchNorm2d no_scale(BatchNormOptions(8).with_trainable_scale(false));
  EXPECT_EQ(no_scale.n_parameters(), 8);
  EXPECT_EQ(no_scale.weight(), nullptr);
  BatchNorm2d plain(BatchNormOptions(8).with_affine(false).with_track_running_stats(false));
  EXPECT_TRUE(plain.parameters().empty());
  EXPECT_TRUE(plain.named_buffers().empty());
  // f64 layers keep f64 statistics, lower precisions f32.
  EXPECT_EQ(BatchNorm2d(BatchNormOptions(2).with_dtype(DType::kF64)).running_mean().dtype(), DType::kF64);
}

TEST(BatchNorm2d, WithoutRunningStatsEvalUsesTheBatch) {
  BatchNorm2d bn(BatchNormOptions(3).with_track_running_stats(false).with_dtype(DType::kF64));
  bn.weight()->set_value(Tensor::from_values(std::vector<double>{1.5, 0.5, -1.0}, {3}));
  bn.bias()->set_value(Tensor::from_values(std::vector<double>{0.1, -0.2, 0.3}, {3}));
  RunContext ctx{cpu_context().compute_stream()};
  bn.eval();
  expect_values(bn.forward(ctx, ramp(false, DType::kF64, MemoryFormat::kContiguous)), kTrainOut, 1e-12,
                "eval without running statistics");
}

TEST(BatchNorm2d, BadInputsAreInvalidArguments) {
  BatchNorm2d bn(BatchNormOptions(3));
  RunContext ctx{cpu_context().compute_stream()};
  EXPECT_THROW(bn.forward(ctx, Tensor::empty({2, 4, 3, 3}, DType::kF32)), InvalidArgument);
  EXPECT_THROW(bn.forward(ctx, Tensor::empty({2, 3, 9}, DType::kF32)), InvalidArgument);
  // One value per channel cannot be normalised in training mode.
  EXPECT_THROW(bn.forward(ctx, Tensor::empty({1, 3, 1, 1}, DType::kF32)), InvalidArgument);
  EXPECT_THROW(BatchNorm2d(BatchNormOptions(0)), InvalidArgument);
  EXPECT_THROW(BatchNorm2d(BatchNormOptions(3).with_momentum(1.5)), InvalidArgument);
  EXPECT_THROW(bn.backward(ctx, Tensor::empty({2, 3, 3, 3}, DType::kF32)), InvalidArgument);
}

}  // namespace
}  // namespace sprint::nn
