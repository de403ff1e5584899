// buffer_key_test.cpp: BufferKey and PerBuffer, and layers keeping one set of saved activations per key:
// several micro-batches in flight (a pipeline's steady state) and evaluation in between leave each backward
// exact.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/buffer_key.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/sequential.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::nn {
namespace {

TEST(BufferKey, KeysCompareByKindAndIndex) {
  EXPECT_EQ(BufferKey::micro_batch(2), BufferKey::micro_batch(2));
  EXPECT_FALSE(BufferKey::micro_batch(0) == BufferKey::micro_batch(1));
  EXPECT_FALSE(BufferKey::micro_batch(0) == BufferKey::evaluation());
  EXPECT_EQ(BufferKey::micro_batch(3).micro_batch_index(), 3);
  EXPECT_TRUE(BufferKey::evaluation().is_evaluation());
  EXPECT_FALSE(BufferKey::micro_batch(0).is_evaluation());
  EXPECT_EQ(BufferKey::micro_batch(2).description(), "micro-batch 2");
  EXPECT_EQ(BufferKey::evaluation().description(), "evaluation");
  EXPECT_NE(BufferKey::evaluation().dense_index(), BufferKey::micro_batch(0).dense_index());
  EXPECT_THROW(BufferKey::micro_batch(-1), InvalidArgument);
  EXPECT_THROW(BufferKey::micro_batch(BufferKey::kMaxMicroBatches), InvalidArgument);
  EXPECT_THROW(BufferKey::evaluation().micro_batch_index(), InvalidArgument);
  EXPECT_EQ(RunContext{cpu_context().compute_stream()}.buffers, BufferKey::micro_batch(0));
}

TEST(BufferKey, PerBufferKeepsOneEntryPerKey) {
  PerBuffer<int> saved;
  EXPECT_FALSE(saved.contains(BufferKey::micro_batch(1)));
  saved.at(BufferKey::micro_batch(1)) = 7;
  saved.at(BufferKey::evaluation()) = 9;
  EXPECT_EQ(saved.saved(BufferKey::micro_batch(1), "Layer"), 7);
  EXPECT_EQ(saved.saved(BufferKey::evaluation(), "Layer"), 9);
  EXPECT_FALSE(saved.contains(BufferKey::micro_batch(0)));
  try {
    saved.saved(BufferKey::micro_batch(0), "Layer");
    ADD_FAILURE() << "no entry for micro-batch 0";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("Layer::backward called before forward (micro-batch 0)"),
              std::string::npos)
        << e.what();
  }
  saved.erase(BufferKey::micro_batch(1));
  EXPECT_FALSE(saved.contains(BufferKey::micro_batch(1)));
  EXPECT_TRUE(saved.contains(BufferKey::evaluation()));
}

std::shared_ptr<Sequential> small_conv_net(uint64_t seed) {
  Generator rng(seed);
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>(ConvOptions(2, 4, 3).with_padding(1), rng);
  net->emplace<BatchNorm2d>(BatchNormOptions(4));
  net->emplace<ReLU>();
  net->emplace<MaxPool2d>(2);
  net->emplace<Flatten>();
  net->emplace<Linear>(LinearOptions(4 * 3 * 3, 5), rng);
  net->set_needs_input_grad(true);
  return net;
}

Tensor batch(uint64_t seed, int64_t n) {
  Generator rng(seed);
  std::vector<float> v(static_cast<size_t>(n * 2 * 6 * 6));
  for (float& e : v) e = static_cast<float>(rng.normal());
  return Tensor::from_values(v, {n, 2, 6, 6});
}

struct Grads {
  std::vector<std::vector<float>> params;
  std::vector<float> dx;
};

Grads backward_of(Sequential& net, CrossEntropyLoss& loss, RunContext& ctx) {
  for (const ParameterPtr& p : net.parameters()) p->zero_grad();
  Grads g;
  g.dx = net.backward(ctx, loss.backward(ctx)).to_vector<float>();
  for (const ParameterPtr& p : net.parameters()) g.params.push_back(p->grad().to_vector<float>());
  return g;
}

// Each micro-batch's backward reads its own saved activations, whatever ran in between: forward 0, forward 1,
// an evaluation forward of a larger batch, backward 0, backward 1 give the gradients of each micro-batch run
// alone.
TEST(BufferKey, MicroBatchesInFlightBackpropagateTheirOwnActivations) {
  const Stream s = cpu_context().compute_stream();
  const Tensor x0 = batch(1, 4), x1 = batch(2, 4), x_eval = batch(3, 16);
  const Tensor labels = Tensor::from_values(std::vector<int32_t>{0, 1, 2, 3}, {4});
  const Tensor eval_labels = Tensor::from_values(std::vector<int32_t>(16, 4), {16});

  Grads alone[2];
  for (int i = 0; i < 2; ++i) {
    auto net = small_conv_net(7);
    CrossEntropyLoss loss;
    RunContext ctx{s};
    loss.forward(ctx, net->forward(ctx, i == 0 ? x0 : x1), labels);
    alone[i] = backward_of(*net, loss, ctx);
  }

  auto net = small_conv_net(7);
  CrossEntropyLoss loss;
  RunContext mb0{s}, mb1{s}, eval{s};
  mb1.buffers = BufferKey::micro_batch(1);
  eval.buffers = BufferKey::evaluation();
  loss.forward(mb0, net->forward(mb0, x0), labels);
  loss.forward(mb1, net->forward(mb1, x1), labels);
  loss.forward(eval, net->forward(eval, x_eval), eval_labels);
  const Grads first = backward_of(*net, loss, mb0);
  const Grads second = backward_of(*net, loss, mb1);
  EXPECT_EQ(first.dx, alone[0].dx);
  EXPECT_EQ(first.params, alone[0].params);
  EXPECT_EQ(second.dx, alone[1].dx);
  EXPECT_EQ(second.params, alone[1].params);

  RunContext never{s};
  never.buffers = BufferKey::micro_batch(5);
  EXPECT_THROW(net->backward(never, Tensor::empty({4, 5}, DType::kF32)), InvalidArgument);
}

}  // namespace
}  // namespace sprint::nn
