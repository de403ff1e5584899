// graph_test.cpp: CUDA-graph capture and replay: an axpby loop replayed many times, the in-place update path
// and the re-instantiation path, refusal of the default stream, clean recovery from a capture invalidated by
// a host synchronisation, and a whole training step (linear + ReLU + cross-entropy + SGD) replayed as a graph
// against the same steps run eagerly.
#include <gtest/gtest.h>

#include <cmath>

#include "gpu/gpu_test_util.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/linear.h"
#include "sprint/ops/loss.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/cuda/cuda_graph.h"
#include "support/test_util.h"

namespace sprint {
namespace {

using cuda::CudaGraph;
using cuda::GraphCapture;

class GraphTest : public testing::CudaTest {};

TEST_F(GraphTest, CaptureReplayAxpbyLoop) {
  const Stream s = stream();
  const int64_t n = (1 << 20) + 5;
  Tensor x = ops::full(s, {n}, DType::kF32, 1.0);
  Tensor y = ops::zeros(s, {n}, DType::kF32);
  s.synchronize();
  CudaGraph graph;
  EXPECT_FALSE(graph.ready());
  {
    GraphCapture capture = graph.capture(s);
    EXPECT_TRUE(capture.active());
    for (int i = 0; i < 3; ++i)
      ops::axpby(s, {.a = x, .b = y, .out = y, .alpha = 1.0, .beta = 1.0});  // y += x
    capture.finish();
    EXPECT_FALSE(capture.active());
  }
  ASSERT_TRUE(graph.ready());
  EXPECT_EQ(graph.n_nodes(), 3u);
  EXPECT_EQ(graph.n_instantiations(), 1);
  // Capturing queued nothing: y is still zero.
  EXPECT_EQ(values<float>(y)[0], 0.0f);
  for (int r = 0; r < 10; ++r) graph.replay(s);
  const std::vector<float> v = values<float>(y);
  for (int64_t i = 0; i < n; i += 997) ASSERT_EQ(v[static_cast<size_t>(i)], 30.0f) << i;
  EXPECT_EQ(v.back(), 30.0f);
  EXPECT_EQ(graph.n_replays(), 10);
}

TEST_F(GraphTest, RecaptureSameTopologyUpdatesInPlace) {
  const Stream s = stream();
  Tensor x = ops::full(s, {4096}, DType::kF32, 1.0);
  Tensor y = ops::zeros(s, {4096}, DType::kF32);
  CudaGraph graph;
  auto capture_step = [&](double alpha) {
    GraphCapture capture = graph.capture(s);
    ops::axpby(s, {.a = x, .b = y, .out = y, .alpha = alpha, .beta = 1.0});
    capture.finish();
  };
  capture_step(1.0);
  graph.replay(s);
  EXPECT_EQ(values<float>(y)[0], 1.0f);
  capture_step(2.5);  // same kernel, new parameter: cudaGraphExecUpdate
  EXPECT_EQ(graph.n_instantiations(), 1);
  EXPECT_EQ(graph.n_updates(), 1);
  graph.replay(s);
  graph.replay(s);
  EXPECT_EQ(values<float>(y)[4095], 6.0f);
  // A different topology (two kernels) cannot be updated: re-instantiated.
  {
    GraphCapture capture = graph.capture(s);
    ops::axpby(s, {.a = x, .b = y, .out = y, .alpha = 1.0, .beta = 1.0});
    ops::fill(s, x, 2.0);
    capture.finish();
  }
  EXPECT_EQ(graph.n_instantiations(), 2);
  graph.replay(s);  // y += 1 (x still 1 when axpby runs), then x = 2
  graph.replay(s);  // y += 2
  EXPECT_EQ(values<float>(y)[7], 9.0f);
}

TEST_F(GraphTest, RefusesDefaultAndHostStreams) {
  CudaGraph graph;
  const Stream legacy(&context(), nullptr);
  EXPECT_THROW({ GraphCapture capture = graph.capture(legacy); }, InvalidArgument);
  EXPECT_THROW({ GraphCapture capture = graph.capture(cpu_context().compute_stream()); }, InvalidArgument);
  EXPECT_THROW(graph.replay(stream()), InvalidArgument);  // nothing captured yet
}

TEST_F(GraphTest, InvalidatedCaptureIsEndedAndTheStreamStaysUsable) {
  const Stream s = stream();
  Tensor y = ops::zeros(s, {256}, DType::kF32);
  CudaGraph graph;
  EXPECT_THROW(
      {
        GraphCapture capture = graph.capture(s);
        ops::fill(s, y, 1.0);
        s.synchronize();  // not allowed while capturing: throws, the guard ends the capture
        capture.finish();
      },
      BackendError);
  EXPECT_FALSE(graph.ready());
  ops::fill(s, y, 4.0);
  EXPECT_EQ(values<float>(y)[255], 4.0f);
  // A second capture on the same stream works.
  {
    GraphCapture capture = graph.capture(s);
    ops::axpby(s, {.a = y, .b = y, .out = y, .alpha = 1.0, .beta = 1.0});
    capture.finish();
  }
  graph.replay(s);
  EXPECT_EQ(values<float>(y)[0], 8.0f);
}

// One SGD step of a 2-layer MLP: logits = W2 relu(W1 x + b1) + b2, cross-entropy, backward, update.
struct Mlp {
  Tensor x, target, w1, b1, w2, b2;  // inputs and parameters
  Tensor h, logits, probs, loss, dlogits, dh, scratch, dw1, db1, dw2, db2, m1, mb1, m2, mb2;
};

Mlp make_mlp(const Stream& s, Generator& rng, int64_t n, int64_t in, int64_t hidden, int64_t classes) {
  Mlp m;
  auto dev = [&](const Tensor& host) { return ops::to_stream_device(s, host); };
  auto empty = [&](const Shape& shape, DType d = DType::kF32) {
    return Tensor::empty(shape, d, s.context().allocator());
  };
  m.x = dev(testing::random_tensor({n, in}, DType::kF32, rng));
  m.target = dev(testing::random_labels(n, classes, rng));
  m.w1 = dev(testing::random_tensor({hidden, in}, DType::kF32, rng, -0.1, 0.1));
  m.b1 = dev(testing::random_tensor({hidden}, DType::kF32, rng, -0.1, 0.1));
  m.w2 = dev(testing::random_tensor({classes, hidden}, DType::kF32, rng, -0.1, 0.1));
  m.b2 = dev(testing::random_tensor({classes}, DType::kF32, rng, -0.1, 0.1));
  m.h = empty({n, hidden});
  m.scratch = empty({n, hidden});
  m.dh = empty({n, hidden});
  m.logits = empty({n, classes});
  m.probs = empty({n, classes});
  m.dlogits = empty({n, classes});
  m.loss = empty({});
  m.dw1 = empty({hidden, in});
  m.db1 = empty({hidden});
  m.dw2 = empty({classes, hidden});
  m.db2 = empty({classes});
  m.m1 = ops::zeros(s, {hidden, in});
  m.mb1 = ops::zeros(s, {hidden});
  m.m2 = ops::zeros(s, {classes, hidden});
  m.mb2 = ops::zeros(s, {classes});
  return m;
}

void mlp_step(const Stream& s, Mlp& m) {
  ops::linear_forward(s, {.x = m.x, .w = m.w1, .b = m.b1, .y = m.h, .activation = Activation::kReLU});
  ops::linear_forward(s, {.x = m.h, .w = m.w2, .b = m.b2, .y = m.logits});
  ops::cross_entropy_forward(
      s, {.logits = m.logits, .target = m.target, .probs = m.probs, .loss = m.loss, .label_smoothing = 0.1});
  ops::cross_entropy_backward(
      s, {.probs = m.probs, .target = m.target, .dlogits = m.dlogits, .label_smoothing = 0.1});
  ops::linear_backward(s, {.dy = m.dlogits,
                           .x = m.h,
                           .w = m.w2,
                           .y = m.logits,
                           .scratch = kNoTensor,
                           .dx = m.dh,
                           .dw = m.dw2,
                           .db = m.db2});
  ops::linear_backward(s, {.dy = m.dh,
                           .x = m.x,
                           .w = m.w1,
                           .y = m.h,
                           .scratch = m.scratch,
                           .dx = kNoTensor,
                           .dw = m.dw1,
                           .db = m.db1,
                           .activation = Activation::kReLU});
  const std::vector<Tensor> params{m.w1, m.b1, m.w2, m.b2}, grads{m.dw1, m.db1, m.dw2, m.db2},
      bufs{m.m1, m.mb1, m.m2, m.mb2};
  ops::sgd_update(s, {.params = params,
                      .grads = grads,
                      .momentum_buffers = bufs,
                      .hyper = {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4}});
}

TEST_F(GraphTest, TrainingStepReplayMatchesEagerSteps) {
  const Stream s = stream();
  Generator rng_a(3), rng_b(3);
  Mlp eager = make_mlp(s, rng_a, 64, 100, 48, 10);
  Mlp graphed = make_mlp(s, rng_b, 64, 100, 48, 10);
  mlp_step(s, eager);  // warm-up outside the capture: cuBLASLt handle, plans, workspaces, loss scratch
  mlp_step(s, graphed);
  CudaGraph graph;
  {
    GraphCapture capture = graph.capture(s);
    mlp_step(s, graphed);
    capture.finish();
  }
  for (int i = 0; i < 5; ++i) {
    mlp_step(s, eager);
    graph.replay(s);
  }
  // Same kernels with the same inputs: equal up to (at most) cuBLASLt run-to-run differences.
  EXPECT_TRUE(testing::all_close(graphed.w1, eager.w1, 1e-6, 1e-7));
  EXPECT_TRUE(testing::all_close(graphed.b2, eager.b2, 1e-6, 1e-7));
  EXPECT_TRUE(testing::all_close(graphed.loss, eager.loss, 1e-6, 1e-7));
  const float loss = values<float>(graphed.loss)[0];
  EXPECT_TRUE(std::isfinite(loss));
  std::printf("graph: %zu nodes, loss after 6 steps %.5f\n", graph.n_nodes(), loss);
}

}  // namespace
}  // namespace sprint
