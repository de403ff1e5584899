// model_kernels_test.cpp: what the zoo's convolutional models run on the CPU, read from the oneDNN primitive log
// (cpu::onednn::created_primitives). In the default layout (NCHW input, channel-blocked activations from the first
// convolution on, as `sprint train` runs them) and in channels-last, a few training steps of cnn, resnet10,
// resnet18, resnet9, vgg16 and airbench94 must use no reference or simple_* oneDNN implementation and reorder no activation (weights change
// layout; the first layer's weight gradient reads its dy as NHWC, recorded apart), and steady-state steps must
// create no primitive at all. With blocked activations the weights of every layer after the first are kept in the
// kernels' blocked layout: neither the forward pass nor the weight gradient reorders them (only the backward-data
// pass, which reads another layout, does). Runs on whatever ISA the machine has: the implementations are oneDNN's choice.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "sprint/backend/cpu/onednn_ops.h"
#include "sprint/nn/mixed_precision.h"
#include "sprint/nn/models.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

constexpr int64_t kBatch = 3;  // matches no channel count, so a 4-D reorder with N = 3 is an activation

std::string describe(const cpu::onednn::PrimitiveInfo& p) {
  std::string dims;
  for (int64_t d : p.dims) dims += (dims.empty() ? "" : "x") + std::to_string(d);
  return p.kind + " " + p.implementation + " " + dims;
}

// tiny_plane_exemption: oneDNN 2.6 has no direct kernel for the weight gradient of a 3x3 convolution over a
// 2x2 plane in the blocked layout (vgg16's last group) and runs its gemm kernel on plain layouts there (see
// onednn_conv.cpp): that layer's activations (N x C x 2 x 2) and its weight gradient are reordered.
void expect_fast_kernels(const std::string& model_name, const Shape& sample, bool blocked,
                         bool tiny_plane_exemption = false) {
  SCOPED_TRACE(model_name + (blocked ? " blocked" : " nhwc"));
  Generator rng(11);
  Model model = build_model(model_name, sample, 10, rng);
  const Stream s = cpu_context().compute_stream();
  const Shape input{kBatch, sample[0], sample[1], sample[2]};
  const MemoryFormat input_format = blocked ? MemoryFormat::kContiguous : MemoryFormat::kChannelsLast;
  const Tensor x = ops::cast_to(s, testing::random_tensor(input, DType::kF32, rng), DType::kF32, input_format);
  const Tensor labels = testing::random_labels(kBatch, 10, rng);
  RunContext ctx{s, &rng};
  if (blocked) {
    ctx.activation_format = ops::preferred_activation_format(s, DType::kF32);
    ASSERT_TRUE(channel_block(*ctx.activation_format) != 0) << "the CPU's conv layout is not channel-blocked";
  }
  model.net->set_needs_input_grad(false);
  optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(0.01).with_momentum(0.9));
  auto step = [&] {
    sgd.zero_grad();
    model.loss->forward(ctx, model.net->forward(ctx, x), labels);
    model.net->backward(ctx, model.loss->backward(ctx));
    sgd.step(s);
  };
  step();
  step();
  // The whole log: primitives of shapes an earlier model created are cached, not created again.
  const std::vector<cpu::onednn::PrimitiveInfo> log = cpu::onednn::created_primitives(s);
  int convolutions = 0;
  const int64_t block = blocked ? channel_block(*ctx.activation_format) : 0;
  for (const cpu::onednn::PrimitiveInfo& p : log) {
    const bool weight_pass = p.kind == cpu::onednn::kWeightReorderForward ||
                             p.kind == cpu::onednn::kWeightReorderGradient;
    // The first layer (C < block: a plain network input) keeps KCRS weights; every later one is blocked.
    const bool tiny_plane = tiny_plane_exemption && p.dims.size() == 4 &&
                            ((p.dims[0] == kBatch && p.dims[2] <= 2 && p.dims[3] <= 2) ||
                             (p.kind == cpu::onednn::kWeightReorderGradient && p.dims[0] == 512));
    if (blocked && weight_pass && !tiny_plane) {
      EXPECT_LT(p.dims.at(1), block) << "weights reordered on every step: " << describe(p);
    }
    if (std::getenv("SPRINT_TEST_VERBOSE")) std::printf("%s\n", describe(p).c_str());
    EXPECT_FALSE(cpu::onednn::is_reference_implementation(p.implementation)) << "reference kernel: " << describe(p);
    const bool activation = p.dims.size() == 4 && p.dims[0] == kBatch;
    EXPECT_FALSE(p.kind == "reorder" && activation && !tiny_plane) << "activation reordered: " << describe(p);
    if (p.kind.rfind("convolution", 0) == 0) ++convolutions;
  }
  EXPECT_GT(convolutions, 0) << "no convolution went through oneDNN";
  step();
  EXPECT_EQ(cpu::onednn::created_primitives(s).size(), log.size()) << "a steady-state step created primitives";
}

// Mixed precision bf16 on a CPU with AMX-BF16: channels-last activations, and every convolution pass runs one of
// oneDNN's AMX (or bf16) kernels and BatchNorm oneDNN's bf16 one, none a reference one, with f32 weight gradients; elsewhere the bf16 operands are
// widened to f32 (the test is skipped).
TEST(ModelKernels, Bf16ConvolutionsRunAmxKernelsWhereTheCpuHasThem) {
  const Stream s = cpu_context().compute_stream();
  if (!ops::has_native_convolutions(s, DType::kBF16))
    GTEST_SKIP() << "this CPU has no AMX-BF16: bf16 convolutions run on widened f32 copies";
  ASSERT_EQ(ops::preferred_activation_format(s, DType::kBF16), MemoryFormat::kChannelsLast);
  Generator rng(11);
  Model model = build_model("resnet10", {3, 32, 32}, 10, rng);
  use_mixed_precision(model, DType::kBF16, s);
  model.net->set_needs_input_grad(false);
  const Tensor x = ops::cast_to(s, testing::random_tensor({kBatch, 3, 32, 32}, DType::kF32, rng), DType::kF32,
                                MemoryFormat::kChannelsLast);
  const Tensor labels = testing::random_labels(kBatch, 10, rng);
  RunContext ctx{s, &rng};
  optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(0.01).with_momentum(0.9));
  const size_t before = cpu::onednn::created_primitives(s).size();
  for (int step = 0; step < 2; ++step) {
    sgd.zero_grad();
    const float loss = model.loss->forward(ctx, model.net->forward(ctx, x), labels).to_vector<float>()[0];
    EXPECT_TRUE(std::isfinite(loss));
    model.net->backward(ctx, model.loss->backward(ctx));
    sgd.step(s);
  }
  const std::vector<cpu::onednn::PrimitiveInfo> log = cpu::onednn::created_primitives(s);
  int amx = 0, convolutions = 0, batch_norms = 0;
  std::set<std::string> passes;
  for (size_t i = before; i < log.size(); ++i) {
    const cpu::onednn::PrimitiveInfo& p = log[i];
    if (p.kind.rfind("batch_normalization", 0) == 0) {  // BatchNorm on the bf16 activations too
      ++batch_norms;
      EXPECT_FALSE(cpu::onednn::is_reference_implementation(p.implementation)) << describe(p);
    }
    if (p.kind.rfind("convolution", 0) != 0) continue;
    ++convolutions;
    passes.insert(p.kind);
    EXPECT_FALSE(cpu::onednn::is_reference_implementation(p.implementation)) << describe(p);
    EXPECT_NE(p.implementation.find("bf16"), std::string::npos) << "not a bf16 kernel: " << describe(p);
    if (p.implementation.find("amx") != std::string::npos) ++amx;
  }
  // Each distinct shape and pass is one primitive (equal layers share it): all three passes appear.
  EXPECT_EQ(passes, (std::set<std::string>{"convolution_forward", "convolution_backward_data",
                                           "convolution_backward_weights"}));
  EXPECT_GT(amx, convolutions / 2) << "most passes should run AMX kernels";
  EXPECT_GT(batch_norms, 0) << "BatchNorm widened its bf16 activations instead of running oneDNN's bf16 kernels";
  for (const ParameterPtr& p : model.net->parameters()) EXPECT_EQ(p->grad().dtype(), DType::kF32) << p->name();
}

TEST(ModelKernels, CnnRunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("cnn", {1, 28, 28}, /*blocked=*/true);
  expect_fast_kernels("cnn", {1, 28, 28}, /*blocked=*/false);
}

TEST(ModelKernels, Resnet10RunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("resnet10", {3, 32, 32}, /*blocked=*/true);
  expect_fast_kernels("resnet10", {3, 32, 32}, /*blocked=*/false);
}

// One model per test (process): the log is cumulative, and a channels-last run reorders weights every step.
TEST(ModelKernels, Airbench94RunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("airbench94", {3, 32, 32}, /*blocked=*/true);
  expect_fast_kernels("airbench94", {3, 32, 32}, /*blocked=*/false);
}

TEST(ModelKernels, Resnet9RunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("resnet9", {3, 32, 32}, /*blocked=*/true);
  expect_fast_kernels("resnet9", {3, 32, 32}, /*blocked=*/false);
}

TEST(ModelKernels, Vgg16RunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("vgg16", {3, 32, 32}, /*blocked=*/true, /*tiny_plane_exemption=*/true);
  expect_fast_kernels("vgg16", {3, 32, 32}, /*blocked=*/false, /*tiny_plane_exemption=*/true);
}

TEST(ModelKernels, Resnet18RunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("resnet18", {3, 32, 32}, /*blocked=*/true);
}

// The 7x7 stride-2 stem and the padded 3x3 stride-2 max-pool.
TEST(ModelKernels, Resnet18ImagenetRunsFastKernelsWithoutActivationReorders) {
  expect_fast_kernels("resnet18-imagenet", {3, 64, 64}, /*blocked=*/true, /*tiny_plane_exemption=*/true);
}

}  // namespace
}  // namespace sprint::nn
