// layers_image_test.cpp: the image nn layers (Conv2d, BatchNorm2d in training and eval mode, max / average /
// global pooling, the residual block) forward and backward on CUDA against the same layer on the CPU, in NCHW
// and NHWC, f32 and (with the CPU fed the rounded values) f16 and bf16. See layer_parity.h.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "gpu/layer_parity.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/residual.h"

namespace sprint::testing {
namespace {

constexpr DType kDtypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr MemoryFormat kFormats[] = {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast};

std::string case_name(const std::string& layer, DType d, MemoryFormat f) {
  return layer + " " + std::string(dtype_name(d)) + (f == MemoryFormat::kChannelsLast ? " nhwc" : " nchw");
}

class ImageLayersTest : public CudaTest {
 protected:
  /// Runs `c` in every dtype and memory format.
  void check_all(LayerParityCase c, const std::string& layer) {
    for (DType d : kDtypes)
      for (MemoryFormat f : kFormats) {
        SCOPED_TRACE(case_name(layer, d, f));
        c.dtype = d;
        c.format = f;
        check_layer_parity(stream(), c);
      }
  }
};

TEST_F(ImageLayersTest, Conv2d) {
  struct Case {
    std::string name;
    Shape input;
    nn::ConvOptions options;
  };
  const Case cases[] = {
      {"3x3 pad 1", {4, 3, 12, 11}, nn::ConvOptions(3, 8, 3).with_padding(1)},
      {"3x3 stride 2 relu", {3, 8, 9, 9}, nn::ConvOptions(8, 16, 3).with_stride(2).with_padding(1).with_activation(
                                              Activation::kReLU)},
      {"groups 2", {2, 8, 7, 7}, nn::ConvOptions(8, 12, 3).with_padding(1).with_groups(2)},
      {"1x1 no bias", {2, 16, 6, 5}, nn::ConvOptions(16, 8, 1).with_bias(false)},
      {"5x5 dilation 2", {2, 4, 13, 13}, nn::ConvOptions(4, 6, 5).with_padding(4).with_dilation(2)}};
  for (const Case& k : cases) {
    LayerParityCase c;
    const nn::ConvOptions options = k.options;
    c.make = [options](Generator& rng) -> nn::ModulePtr { return std::make_shared<nn::Conv2d>(options, rng); };
    c.input = k.input;
    check_all(c, "Conv2d " + k.name);
  }
}

TEST_F(ImageLayersTest, BatchNorm2dTraining) {
  LayerParityCase c;
  c.make = [](Generator&) -> nn::ModulePtr {
    return std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions(6).with_momentum(0.2));
  };
  c.input = {5, 6, 7, 9};
  c.input_low = -2.0;
  c.input_high = 3.0;  // non-zero mean
  c.warmup_forwards = 1;
  check_all(c, "BatchNorm2d train");
  c.make = [](Generator&) -> nn::ModulePtr {
    return std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions(6).with_trainable_scale(false));
  };
  check_all(c, "BatchNorm2d train, shift only");
}

TEST_F(ImageLayersTest, BatchNorm2dEval) {
  LayerParityCase c;
  c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions(4)); };
  c.input = {6, 4, 5, 5};
  c.input_low = -1.0;
  c.input_high = 4.0;
  c.training = false;
  c.warmup_forwards = 3;  // running statistics away from (0, 1)
  check_all(c, "BatchNorm2d eval");
  c.make = [](Generator&) -> nn::ModulePtr {
    return std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions(4).with_track_running_stats(false));
  };
  check_all(c, "BatchNorm2d eval, batch statistics");
}

TEST_F(ImageLayersTest, Pooling) {
  struct Case {
    std::string name;
    std::function<nn::ModulePtr()> make;
    Shape input;
  };
  const Case cases[] = {
      {"MaxPool2d 2", [] { return std::make_shared<nn::MaxPool2d>(2); }, {3, 5, 8, 10}},
      {"MaxPool2d 3/2 pad 1",
       [] { return std::make_shared<nn::MaxPool2d>(nn::PoolOptions(3).with_stride(2).with_padding(1)); },
       {2, 4, 9, 7}},
      {"AvgPool2d 2", [] { return std::make_shared<nn::AvgPool2d>(2); }, {3, 5, 8, 10}},
      {"AvgPool2d 3/1 pad 1 exclude pad",
       [] {
         return std::make_shared<nn::AvgPool2d>(
             nn::PoolOptions(3).with_stride(1).with_padding(1).with_count_include_pad(false));
       },
       {2, 3, 6, 7}},
      {"GlobalAvgPool2d", [] { return std::make_shared<nn::GlobalAvgPool2d>(); }, {4, 6, 7, 5}},
      {"GlobalMaxPool2d", [] { return std::make_shared<nn::GlobalMaxPool2d>(); }, {4, 6, 9, 8}}};
  for (const Case& k : cases) {
    LayerParityCase c;
    const auto make = k.make;
    c.make = [make](Generator&) { return make(); };
    c.input = k.input;
    check_all(c, k.name);
  }
}

// Residual blocks compound rounding over two convolutions and two batch norms: f16/bf16 get twice the tolerance.
TEST_F(ImageLayersTest, ResidualBlock) {
  for (int64_t stride : {1, 2}) {
    const int64_t out = stride == 1 ? 8 : 16;  // identity shortcut / conv1x1 + BN shortcut
    for (DType d : kDtypes)
      for (MemoryFormat f : kFormats) {
        SCOPED_TRACE(case_name(fmt::format("ResidualBlock stride {}", stride), d, f));
        LayerParityCase c;
        c.make = [out, stride](Generator& rng) -> nn::ModulePtr {
          return std::make_shared<nn::ResidualBlock>(nn::ResidualBlockOptions(8, out).with_stride(stride), rng);
        };
        c.input = {4, 8, 8, 8};
        c.dtype = d;
        c.format = f;
        const Tolerance t = layer_tolerance(d);
        c.tolerance = d == DType::kF32 ? Tolerance{2e-4, 2e-5} : Tolerance{2 * t.rtol, 2 * t.atol};
        check_layer_parity(stream(), c);
      }
  }
}

}  // namespace
}  // namespace sprint::testing
