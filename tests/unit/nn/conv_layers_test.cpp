// conv_layers_test.cpp: Conv2d / pooling layer shapes, initialisation and descriptions; bad shapes are
// InvalidArgument; the cnn model and a residual network allocate nothing and create no oneDNN primitives in
// steady-state training steps (both memory formats); a few SGD steps on one batch lower the cnn's loss.
#include <gtest/gtest.h>

#include <cmath>

#include "sprint/backend/cpu/onednn_ops.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/residual.h"
#include "sprint/nn/sequential.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/pool.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

std::shared_ptr<Sequential> cnn(Generator& rng) {
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>(ConvOptions(1, 32, 3).with_padding(1).with_activation(Activation::kReLU), rng);
  net->emplace<MaxPool2d>(2);
  net->emplace<Conv2d>(ConvOptions(32, 64, 3).with_padding(1), rng);
  net->emplace<ReLU>();
  net->emplace<MaxPool2d>(2);
  net->emplace<Flatten>();
  net->emplace<Linear>(LinearOptions(64 * 7 * 7, 128).with_activation(Activation::kReLU), rng);
  net->emplace<Linear>(LinearOptions(128, 10), rng);
  return net;
}

std::shared_ptr<Sequential> small_resnet(Generator& rng) {
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>(ConvOptions(3, 8, 3).with_padding(1).with_bias(false), rng);
  net->emplace<BatchNorm2d>(BatchNormOptions(8));
  net->emplace<ReLU>();
  net->emplace<ResidualBlock>(ResidualBlockOptions(8, 8), rng);
  net->emplace<ResidualBlock>(ResidualBlockOptions(8, 16).with_stride(2), rng);
  net->emplace<AvgPool2d>(PoolOptions(3).with_stride(1).with_padding(1));
  net->emplace<Dropout>(0.2);
  net->emplace<GlobalMaxPool2d>();
  net->emplace<Linear>(LinearOptions(16, 10), rng);
  return net;
}

TEST(Conv2d, ShapesInitAndDescription) {
  Generator rng(0);
  Conv2d conv(ConvOptions(6, 12, 5).with_stride(2).with_padding(2).with_groups(3), rng);
  EXPECT_EQ(conv.weight()->value().shape(), (Shape{12, 2, 5, 5}));
  EXPECT_EQ(conv.output_shape({4, 6, 32, 31}), (Shape{4, 12, 16, 16}));
  EXPECT_EQ(conv.describe(), "Conv2d(6 -> 12, 5x5, stride 2, padding 2, groups 3, bias)");
  const float bound = 1.0f / std::sqrt(2.0f * 25.0f);  // fan_in = C/groups · R · S
  float largest = 0.0f;
  for (float v : conv.weight()->value().to_vector<float>()) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.9f * bound);
  for (float v : conv.bias()->value().to_vector<float>()) EXPECT_LE(std::abs(v), bound);
  Generator again(0);
  Conv2d same(ConvOptions(6, 12, 5).with_stride(2).with_padding(2).with_groups(3), again);
  EXPECT_EQ(same.weight()->value().to_vector<float>(), conv.weight()->value().to_vector<float>());
}

TEST(Pool, Shapes) {
  EXPECT_EQ(MaxPool2d(2).output_shape({8, 3, 28, 28}), (Shape{8, 3, 14, 14}));
  EXPECT_EQ(MaxPool2d(2).output_shape({8, 3, 7, 7}), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(MaxPool2d(PoolOptions(3).with_stride(2).with_padding(1)).output_shape({1, 1, 32, 32}),
            (Shape{1, 1, 16, 16}));
  EXPECT_EQ(AvgPool2d(PoolOptions(3).with_stride(1).with_padding(1)).output_shape({2, 4, 5, 6}),
            (Shape{2, 4, 5, 6}));
  EXPECT_EQ(GlobalAvgPool2d().output_shape({2, 4, 5, 6}), (Shape{2, 4}));
  EXPECT_EQ(GlobalMaxPool2d().output_shape({2, 4, 5, 6}), (Shape{2, 4}));
}

TEST(ConvLayers, BadShapesAreInvalidArguments) {
  Generator rng(0);
  RunContext ctx{cpu_context().compute_stream(), &rng};
  Conv2d conv(ConvOptions(3, 4, 3), rng);
  EXPECT_THROW(conv.forward(ctx, Tensor::empty({2, 4, 8, 8}, DType::kF32)), InvalidArgument);  // channels
  EXPECT_THROW(conv.forward(ctx, Tensor::empty({2, 3, 2, 8}, DType::kF32)),
               InvalidArgument);                                                            // kernel too big
  EXPECT_THROW(conv.forward(ctx, Tensor::empty({2, 3, 8}, DType::kF32)), InvalidArgument);  // not 4-D
  EXPECT_THROW(conv.forward(ctx, Tensor::empty({2, 3, 8, 8}, DType::kF64)), InvalidArgument);  // dtype
  EXPECT_THROW(conv.backward(ctx, Tensor::empty({2, 4, 6, 6}, DType::kF32)),
               InvalidArgument);  // before forward
  conv.forward(ctx, Tensor::empty({2, 3, 8, 8}, DType::kF32));
  EXPECT_THROW(conv.backward(ctx, Tensor::empty({2, 4, 5, 6}, DType::kF32)), InvalidArgument);  // wrong dy
  EXPECT_THROW(Conv2d(ConvOptions(3, 4, 3).with_groups(2), rng), InvalidArgument);
  EXPECT_THROW(Conv2d(ConvOptions(3, 4, 0), rng), InvalidArgument);
  EXPECT_THROW(MaxPool2d(PoolOptions(2).with_padding(2)), InvalidArgument);  // padding > kernel / 2
  MaxPool2d pool(3);
  EXPECT_THROW(pool.forward(ctx, Tensor::empty({1, 1, 2, 2}, DType::kF32)), InvalidArgument);
  EXPECT_THROW(GlobalAvgPool2d().forward(ctx, Tensor::empty({4, 10}, DType::kF32)), InvalidArgument);

  // Front doors: mixed memory formats (pooling; the CPU's convolutions convert between layouts), non-KCRS
  // weights, wrong index dtype, aliasing.
  const Stream s = ctx.stream;
  Tensor x = Tensor::empty({2, 3, 8, 8}, DType::kF32);
  Tensor w = Tensor::empty({4, 3, 3, 3}, DType::kF32);
  Tensor pooled_cl = Tensor::empty({2, 3, 4, 4}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsLast);
  EXPECT_THROW(ops::avg_pool2d_forward(s, {.x = x, .y = pooled_cl, .params = {}}), InvalidArgument);
  Tensor pooled_blocked = Tensor::empty({2, 3, 4, 4}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsBlocked8);
  EXPECT_THROW(ops::avg_pool2d_forward(s, {.x = x, .y = pooled_blocked, .params = {}}), InvalidArgument);
  Tensor w_cl = Tensor::empty({4, 3, 3, 3}, DType::kF32, cpu_allocator(), MemoryFormat::kChannelsLast);
  Tensor y = Tensor::empty({2, 4, 6, 6}, DType::kF32);
  EXPECT_THROW(ops::conv2d_forward(s, {.x = x, .w = w_cl, .b = kNoTensor, .y = y, .params = {}}),
               InvalidArgument);
  EXPECT_THROW(
      ops::conv2d_forward(s, {.x = x, .w = w, .b = Tensor::empty({5}, DType::kF32), .y = y, .params = {}}),
      InvalidArgument);
  Tensor pooled = Tensor::empty({2, 3, 4, 4}, DType::kF32);
  const Pool2dParams window{.kernel = 2, .stride = 2};
  const Tensor f32_indices = Tensor::empty({2, 3, 4, 4}, DType::kF32);
  EXPECT_THROW(ops::max_pool2d_forward(s, {.x = x, .y = pooled, .indices = f32_indices, .params = window}),
               InvalidArgument);
  const Tensor corner = x.narrow(2, 0, 4).narrow(3, 0, 4);  // a strided view of x: not NCHW/NHWC, overlaps x
  EXPECT_THROW(ops::max_pool2d_forward(s, {.x = x, .y = corner, .indices = kNoTensor, .params = window}),
               InvalidArgument);
  EXPECT_THROW(
      ops::conv2d_backward_weight(s, {.dy = y, .x = x, .dw = kNoTensor, .db = kNoTensor, .params = {}}),
      InvalidArgument);
}

// Runs `steps` training steps of net (+ cross-entropy + SGD) on one batch; returns the losses.
std::vector<float> train_steps(Sequential& net, const Tensor& x, const Tensor& labels, int steps,
                               Generator& rng) {
  RunContext ctx{cpu_context().compute_stream(), &rng};
  CrossEntropyLoss loss;
  optim::SGD sgd(optim::single_group(net), optim::SGDOptions(0.05).with_momentum(0.9));
  std::vector<float> losses;
  for (int i = 0; i < steps; ++i) {
    sgd.zero_grad();
    const Tensor logits = net.forward(ctx, x);
    losses.push_back(loss.forward(ctx, logits, labels).to_vector<float>()[0]);
    net.backward(ctx, loss.backward(ctx));
    sgd.step(ctx.stream);
  }
  return losses;
}

void expect_steady_state(Sequential& net, const Shape& input, MemoryFormat format) {
  SCOPED_TRACE(format == MemoryFormat::kChannelsLast ? "NHWC" : "NCHW");
  Generator rng(4);
  const Stream s = cpu_context().compute_stream();
  const Tensor x = ops::cast_to(s, testing::random_tensor(input, DType::kF32, rng), DType::kF32, format);
  const Tensor labels = testing::random_labels(input[0], 10, rng);
  RunContext ctx{s, &rng};
  CrossEntropyLoss loss;
  optim::SGD sgd(optim::single_group(net), optim::SGDOptions(0.01).with_momentum(0.9));
  auto step = [&] {
    sgd.zero_grad();
    loss.forward(ctx, net.forward(ctx, x), labels);
    net.backward(ctx, loss.backward(ctx));
    sgd.step(s);
  };
  step();  // warm-up: workspaces, optimizer state, oneDNN primitives
  step();
  const int64_t allocations = cpu_allocator().stats().n_allocations;
  const size_t primitives = cpu::onednn::cached_primitive_count(s);
  for (int i = 0; i < 3; ++i) step();
  EXPECT_EQ(cpu_allocator().stats().n_allocations, allocations) << "steady-state steps allocated";
  EXPECT_EQ(cpu::onednn::cached_primitive_count(s), primitives) << "steady-state steps created primitives";
}

TEST(ConvLayers, SteadyStateAllocatesNothing) {
  Generator rng(1);
  auto a = cnn(rng);
  expect_steady_state(*a, {16, 1, 28, 28}, MemoryFormat::kContiguous);
  auto b = cnn(rng);
  expect_steady_state(*b, {16, 1, 28, 28}, MemoryFormat::kChannelsLast);
  auto c = small_resnet(rng);
  expect_steady_state(*c, {4, 3, 12, 12}, MemoryFormat::kContiguous);
  auto d = small_resnet(rng);
  expect_steady_state(*d, {4, 3, 12, 12}, MemoryFormat::kChannelsLast);
}

TEST(ConvLayers, CnnLearnsOneBatch) {
  Generator rng(2);
  auto net = cnn(rng);
  // Zero-mean random images with random labels: the network must memorise them (loss ~0.02 after 35 steps).
  const Tensor x = testing::random_tensor({32, 1, 28, 28}, DType::kF32, rng, -1.0, 1.0);
  const Tensor labels = testing::random_labels(32, 10, rng);
  const std::vector<float> losses = train_steps(*net, x, labels, 35, rng);
  EXPECT_NEAR(losses.front(), std::log(10.0f), 0.3f);
  EXPECT_LT(losses.back(), 0.1f) << "loss did not drop: " << losses.back();
}

TEST(ConvLayers, FirstLayerSkipsInputGradient) {
  Generator rng(3);
  auto net = cnn(rng);
  net->set_needs_input_grad(false);
  RunContext ctx{cpu_context().compute_stream(), &rng};
  net->forward(ctx, testing::random_tensor({2, 1, 28, 28}, DType::kF32, rng));
  EXPECT_FALSE(net->backward(ctx, testing::random_tensor({2, 10}, DType::kF32, rng)).defined());
  EXPECT_TRUE(net->parameters()[0]->has_grad());
}

}  // namespace
}  // namespace sprint::nn

namespace sprint::nn {
namespace {

// Every value in the channels that pad C to a whole block (c >= C) is 0.
void expect_zero_padding(const Tensor& t, const char* what) {
  ASSERT_TRUE(t.is_channel_blocked()) << what;
  const float* p = t.data_as<float>();
  const int64_t b = t.channel_block(), blocks = (t.dim(1) + b - 1) / b;
  for (int64_t n = 0; n < t.dim(0); ++n)
    for (int64_t hw = 0; hw < t.dim(2) * t.dim(3); ++hw)
      for (int64_t c = t.dim(1); c < blocks * b; ++c)
        ASSERT_EQ(p[n * t.strides()[0] + (c / b) * t.strides()[1] + hw * b + c % b], 0.0f)
            << what << ": padding channel " << c << " is not 0";
}

// A network whose channel counts are not multiples of the block: every layer keeps the padding channels of its
// channel-blocked outputs and input gradients at 0 (convolutions read them, multiplied by zero weights).
TEST(ConvLayers, BlockedPaddingChannelsStayZero) {
  Generator rng(9);
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>(ConvOptions(3, 5, 3).with_padding(1).with_activation(Activation::kReLU), rng);
  net->emplace<BatchNorm2d>(BatchNormOptions(5));
  net->emplace<ReLU>();
  net->emplace<MaxPool2d>(2);
  net->emplace<Dropout>(0.3);
  net->emplace<ResidualBlock>(ResidualBlockOptions(5, 11).with_stride(2), rng);
  net->emplace<AvgPool2d>(PoolOptions(3).with_stride(1).with_padding(1));
  net->emplace<GlobalAvgPool2d>();
  net->emplace<Linear>(LinearOptions(11, 10), rng);
  const Stream s = cpu_context().compute_stream();
  const Tensor x = testing::random_tensor({4, 3, 12, 12}, DType::kF32, rng);
  const Tensor labels = testing::random_labels(4, 10, rng);
  BufferPool pool;
  for (MemoryFormat f : {MemoryFormat::kChannelsBlocked8, MemoryFormat::kChannelsBlocked16}) {
    SCOPED_TRACE(memory_format_name(f));
    RunContext ctx{s, &rng, BufferKey::micro_batch(0), f, &pool};
    CrossEntropyLoss loss;
    optim::SGD sgd(optim::single_group(*net), optim::SGDOptions(0.05).with_momentum(0.9));
    for (int step = 0; step < 3; ++step) {
      sgd.zero_grad();
      Tensor h = x;
      std::vector<Tensor> grads_in;
      // Forward layer by layer to inspect each output.
      const auto children = net->children();
      for (size_t i = 0; i < children.size(); ++i) {
        h = children[i].second->forward(ctx, h);
        if (h.ndim() == 4) expect_zero_padding(h, children[i].second->describe().c_str());
      }
      loss.forward(ctx, h, labels);
      Tensor g = loss.backward(ctx);
      for (size_t i = children.size(); i-- > 0;) {
        g = children[i].second->backward(ctx, g);
        if (g.defined() && g.ndim() == 4 && i > 0)
          expect_zero_padding(g, (children[i].second->describe() + " (input gradient)").c_str());
      }
      sgd.step(s);
    }
  }
}

}  // namespace
}  // namespace sprint::nn

namespace sprint::nn {
namespace {

// Channel counts that are not multiples of a block, momentum and weight decay: the second convolution's weights
// move into the kernels' blocked layout on the first step (the first one, fed the plain input, keeps KCRS), SGD
// updates them there with their padding left at 0, and training follows the plain-layout run step by step.
TEST(ConvLayers, BlockedWeightsTrainLikeKcrsWeights) {
  const Stream s = cpu_context().compute_stream();
  const MemoryFormat blocked = ops::preferred_activation_format(s, DType::kF32);
  ASSERT_NE(channel_block(blocked), 0) << "the CPU's conv layout is not channel-blocked";
  auto make = [] {
    Generator rng(21);
    auto net = std::make_shared<Sequential>();
    net->emplace<Conv2d>(ConvOptions(3, 5, 3).with_padding(1).with_activation(Activation::kReLU), rng);
    net->emplace<Conv2d>(ConvOptions(5, 11, 3).with_padding(1).with_bias(false), rng);
    net->emplace<BatchNorm2d>(BatchNormOptions(11));
    net->emplace<ReLU>();
    net->emplace<GlobalAvgPool2d>();
    net->emplace<Linear>(LinearOptions(11, 10), rng);
    return net;
  };
  Generator data_rng(4);
  const Tensor x = testing::random_tensor({6, 3, 9, 8}, DType::kF32, data_rng);
  const Tensor labels = testing::random_labels(6, 10, data_rng);
  auto train = [&](Sequential& net, std::optional<MemoryFormat> format) {
    Generator rng(8);
    RunContext ctx{s, &rng, BufferKey::micro_batch(0), format};
    CrossEntropyLoss loss;
    optim::SGD sgd(optim::single_group(net), optim::SGDOptions(0.1).with_momentum(0.9).with_weight_decay(0.01));
    std::vector<float> losses;
    for (int step = 0; step < 4; ++step) {
      sgd.zero_grad();
      losses.push_back(loss.forward(ctx, net.forward(ctx, x), labels).to_vector<float>()[0]);
      net.backward(ctx, loss.backward(ctx));
      sgd.step(s);
    }
    return losses;
  };
  auto plain_net = make(), blocked_net = make();
  const std::vector<float> plain = train(*plain_net, std::nullopt), with_blocks = train(*blocked_net, blocked);
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NEAR(with_blocks[i], plain[i], 1e-4 * plain[i]) << "step " << i;
  const auto p = plain_net->named_parameters(), b = blocked_net->named_parameters();
  ASSERT_EQ(p.size(), b.size());
  for (size_t i = 0; i < p.size(); ++i) {
    SCOPED_TRACE(b[i].first);
    const Tensor& v = b[i].second->value();
    EXPECT_TRUE(testing::all_close(v, p[i].second->value(), 1e-4, 1e-5));
    EXPECT_FALSE(p[i].second->value().is_weight_blocked());
    if (b[i].first.find("weight") == std::string::npos || v.ndim() != 4) continue;
    // Only the second convolution's input is channel-blocked.
    EXPECT_EQ(v.is_weight_blocked(), v.dim(1) == 5) << v.description();
    if (!v.is_weight_blocked()) continue;
    EXPECT_EQ(v.weight_block(), channel_block(blocked));
    EXPECT_EQ(b[i].second->grad().memory_format(), v.memory_format());
    double storage = 0.0, logical = 0.0;
    for (int64_t j = 0; j < v.storage_numel(); ++j) storage += std::fabs(v.data_as<float>()[j]);
    for (float e : v.to_vector<float>()) logical += std::fabs(e);
    EXPECT_NEAR(storage, logical, 1e-9 * logical) << "padding of blocked weights is not 0";
  }
}

}  // namespace
}  // namespace sprint::nn
