// module_test.cpp: parameter traversal, naming, sharing, needs_input_grad propagation, device moves.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::nn {
namespace {

TEST(Module, NamedParametersAndCounts) {
  Generator rng(0);
  Sequential net;
  net.emplace<Flatten>();
  net.emplace<Linear>(LinearOptions(784, 128), rng);
  net.emplace<ReLU>();
  net.emplace<Linear>(LinearOptions(128, 10), rng);
  auto named = net.named_parameters();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "1.weight");
  EXPECT_EQ(named[3].first, "3.bias");
  EXPECT_EQ(net.n_parameters(), 784 * 128 + 128 + 128 * 10 + 10);
  EXPECT_EQ(net.output_shape({64, 1, 28, 28}), (Shape{64, 10}));
  EXPECT_THROW(net.output_shape({64, 3, 32, 32}), InvalidArgument);
}

TEST(Module, SharedParametersAppearOnce) {
  Generator rng(0);
  auto first = std::make_shared<Linear>(LinearOptions(8, 8), rng);
  auto second = std::make_shared<Linear>(LinearOptions(8, 8), first->weight(), first->bias());
  Sequential net({first, std::make_shared<ReLU>(), second});
  EXPECT_EQ(net.parameters().size(), 2u);
}

TEST(Module, PytorchDefaultInitBounds) {
  Generator rng(0);
  Linear l(LinearOptions(100, 50), rng);
  for (float v : l.weight()->value().to_vector<float>()) {
    EXPECT_LE(std::abs(v), 0.1f);
  }
  // Same seed, same weights.
  Generator rng2(0);
  Linear l2(LinearOptions(100, 50), rng2);
  EXPECT_EQ(l.weight()->value().to_vector<float>(), l2.weight()->value().to_vector<float>());
}

TEST(Module, FirstLayerSkipsInputGradient) {
  Generator rng(0);
  Sequential net;
  net.emplace<Linear>(LinearOptions(4, 3), rng);
  net.set_needs_input_grad(false);
  RunContext ctx{cpu_context().compute_stream()};
  Tensor x = Tensor::from_values(std::vector<float>(8, 1.0f), {2, 4});
  Tensor y = net.forward(ctx, x);
  Tensor dx = net.backward(ctx, Tensor::from_values(std::vector<float>(6, 1.0f), {2, 3}));
  EXPECT_FALSE(dx.defined());
  EXPECT_TRUE(net.parameters()[0]->has_grad());
}

TEST(Module, ParameterFreePrefixSkipsInputGradients) {
  // Flatten before the first Linear: neither needs an input gradient (saves the biggest GEMM of an MLP).
  Generator rng(0);
  Sequential net;
  auto& flatten = net.emplace<Flatten>();
  auto& first = net.emplace<Linear>(LinearOptions(4, 3), rng);
  auto& relu = net.emplace<ReLU>();
  net.set_needs_input_grad(false);
  EXPECT_FALSE(flatten.needs_input_grad());
  EXPECT_FALSE(first.needs_input_grad());
  EXPECT_TRUE(relu.needs_input_grad());
  net.set_needs_input_grad(true);
  EXPECT_TRUE(flatten.needs_input_grad());
  EXPECT_TRUE(first.needs_input_grad());
}

TEST(Module, BackwardBeforeForwardIsAnError) {
  Generator rng(0);
  Linear l(LinearOptions(4, 3), rng);
  RunContext ctx{cpu_context().compute_stream()};
  EXPECT_THROW(l.backward(ctx, Tensor::empty({2, 3}, DType::kF32)), InvalidArgument);
}

TEST(Module, WrongInputShapeIsAnError) {
  Generator rng(0);
  Linear l(LinearOptions(4, 3), rng);
  RunContext ctx{cpu_context().compute_stream()};
  EXPECT_THROW(l.forward(ctx, Tensor::empty({2, 5}, DType::kF32)), InvalidArgument);
}

// Moving to another device keeps every value: weights, the f32 master of mixed precision, the gradient (also one
// not written since zero_grad, which SpecTrain reads) and the buffers.
TEST(Module, ToDeviceMovesValuesMastersGradientsAndBuffers) {
  Generator rng(3);
  const Stream host = cpu_context().compute_stream();
  const Device logical{DeviceType::kCPU, 2};
  const Stream there = device_context(logical).compute_stream();
  Sequential net;
  net.emplace<Linear>(LinearOptions(4, 3), rng);
  net.emplace<BatchNorm2d>(BatchNormOptions(3));  // its running statistics are buffers
  const ParameterPtr w = net.parameters()[0];
  const std::vector<float> weights = w->value().to_vector<float>();
  for (int64_t i = 0; i < w->grad().numel(); ++i) w->grad().data_as<float>()[i] = static_cast<float>(i);
  const std::vector<float> grads = w->grad().to_vector<float>();
  const ParameterPtr b = net.parameters()[1];
  b->use_compute_dtype(host, DType::kBF16);
  const std::vector<float> master = b->master_value().to_vector<float>();
  net.to_device(there);
  for (const ParameterPtr& p : net.parameters()) {
    EXPECT_EQ(p->value().device(), logical) << p->name();
    EXPECT_EQ(p->grad().device(), logical) << p->name();
  }
  for (const NamedBuffer& buffer : net.named_buffers()) EXPECT_EQ(buffer.value.device(), logical) << buffer.name;
  EXPECT_EQ(w->value().to_vector<float>(), weights);
  EXPECT_EQ(w->grad().to_vector<float>(), grads);
  EXPECT_TRUE(b->has_master());
  EXPECT_EQ(b->master_value().device(), logical);
  EXPECT_EQ(b->master_value().to_vector<float>(), master);
  EXPECT_EQ(b->value().dtype(), DType::kBF16);
}

}  // namespace
}  // namespace sprint::nn
