// layers_dense_test.cpp: the non-convolutional nn layers (Linear with and without bias and fused ReLU, ReLU,
// Flatten, LogSoftmax, Dropout) forward and backward on CUDA against the same layer on the CPU, in f32 and (with
// the CPU fed the rounded values) in f16 and bf16. See layer_parity.h.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "gpu/layer_parity.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/log_softmax.h"

namespace sprint::testing {
namespace {

constexpr DType kDtypes[] = {DType::kF32, DType::kF16, DType::kBF16};

class DenseLayersTest : public CudaTest {
 protected:
  void check(const LayerParityCase& c, const std::string& what) {
    SCOPED_TRACE(what + " " + std::string(dtype_name(c.dtype)));
    check_layer_parity(stream(), c);
  }
};

TEST_F(DenseLayersTest, Linear) {
  struct Case {
    int64_t n, in, out;
    bool bias;
    Activation activation;
  };
  const Case cases[] = {{32, 64, 10, true, Activation::kNone},
                        {17, 33, 65, true, Activation::kReLU},
                        {5, 7, 3, false, Activation::kNone},
                        {64, 128, 32, false, Activation::kReLU}};
  for (DType d : kDtypes)
    for (const Case& k : cases) {
      LayerParityCase c;
      c.make = [k](Generator& rng) -> nn::ModulePtr {
        return std::make_shared<nn::Linear>(
            nn::LinearOptions(k.in, k.out).with_bias(k.bias).with_activation(k.activation), rng);
      };
      c.input = {k.n, k.in};
      c.dtype = d;
      check(c, fmt::format("Linear({} -> {}, N {}, bias {}, relu {})", k.in, k.out, k.n, k.bias,
                           k.activation == Activation::kReLU));
    }
}

TEST_F(DenseLayersTest, ReLU) {
  for (DType d : kDtypes) {
    for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
      LayerParityCase c;
      c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::ReLU>(); };
      c.input = {3, 5, 7, 6};
      c.format = f;
      c.dtype = d;
      check(c, f == MemoryFormat::kContiguous ? "ReLU nchw" : "ReLU nhwc");
    }
    LayerParityCase c;
    c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::ReLU>(); };
    c.input = {33, 129};
    c.dtype = d;
    check(c, "ReLU 2-D");
  }
}

TEST_F(DenseLayersTest, GeluAndScale) {
  for (DType d : kDtypes) {
    for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
      LayerParityCase c;
      c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::GELU>(); };
      c.input = {3, 5, 7, 6};
      c.format = f;
      c.dtype = d;
      check(c, f == MemoryFormat::kContiguous ? "GELU nchw" : "GELU nhwc");
    }
    LayerParityCase c;
    c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::Scale>(1.0 / 9.0); };
    c.input = {33, 129};
    c.dtype = d;
    check(c, "Scale 2-D");
  }
}

TEST_F(DenseLayersTest, Flatten) {
  for (DType d : kDtypes)
    for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {  // a view / a copy
      LayerParityCase c;
      c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::Flatten>(); };
      c.input = {4, 3, 5, 6};
      c.format = f;
      c.dtype = d;
      check(c, f == MemoryFormat::kContiguous ? "Flatten nchw" : "Flatten nhwc");
    }
}

TEST_F(DenseLayersTest, LogSoftmax) {
  for (DType d : kDtypes)
    for (const Shape& s : {Shape{64, 10}, Shape{7, 1000}, Shape{1, 3}}) {
      LayerParityCase c;
      c.make = [](Generator&) -> nn::ModulePtr { return std::make_shared<nn::LogSoftmax>(); };
      c.input = s;
      c.input_low = -6.0;
      c.input_high = 6.0;
      c.dtype = d;
      check(c, "LogSoftmax " + s.to_string());
    }
}

// Equal generator seeds give equal masks on both backends, so a training-mode Dropout compares like any layer;
// eval mode and p = 0 are the identity.
TEST_F(DenseLayersTest, Dropout) {
  for (DType d : kDtypes)
    for (double p : {0.0, 0.3, 0.7})
      for (bool training : {true, false}) {
        LayerParityCase c;
        c.make = [p](Generator&) -> nn::ModulePtr { return std::make_shared<nn::Dropout>(p); };
        c.input = {6, 4, 5, 7};
        c.format = MemoryFormat::kChannelsLast;
        c.training = training;
        c.dtype = d;
        check(c, fmt::format("Dropout(p {}) {}", p, training ? "train" : "eval"));
        c.input = {9, 1001};
        check(c, fmt::format("Dropout(p {}) {} 2-D", p, training ? "train" : "eval"));
      }
}

}  // namespace
}  // namespace sprint::testing
