// dropout_graph_test.cpp: dropout inside a captured CUDA graph draws a new mask on every replay. The kernels read
// the Philox seed and base offset from a device state (DropoutMask::state, RunContext::philox_state) that a
// captured philox_state_advance moves on by one step's words, so replay r equals the eager step r after the
// capture, forward and backward, at the op level and through the Dropout layer.
#include <gtest/gtest.h>

#include <vector>

#include "gpu/gpu_test_util.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/sequential.h"
#include "sprint/ops/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/cuda/cuda_graph.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

class DropoutGraphTest : public CudaTest {
 protected:
  Tensor state(uint64_t seed, uint64_t base) {
    return to_device(
        Tensor::from_values(std::vector<int64_t>{static_cast<int64_t>(seed), static_cast<int64_t>(base)}, {2}));
  }
  Tensor like(const Tensor& t) {
    return Tensor::empty(t.shape(), t.dtype(), context().allocator(),
                         t.ndim() == 4 ? t.memory_format() : MemoryFormat::kContiguous);
  }
};

TEST_F(DropoutGraphTest, ReplaysDrawTheMasksOfSuccessiveEagerSteps) {
  struct Case {
    Shape shape;
    MemoryFormat format;
  };
  const Case cases[] = {{{4099}, MemoryFormat::kContiguous},
                        {{3, 5, 7, 9}, MemoryFormat::kChannelsLast},
                        {{2, 3, 5, 5}, MemoryFormat::kContiguous}};
  Generator rng(2);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shape.to_string());
    const MemoryFormat f = c.shape.size() == 4 ? c.format : MemoryFormat::kContiguous;
    const Tensor x = ops::cast_to(stream(), to_device(random_tensor(c.shape, DType::kF32, rng, 0.5, 1.5)),
                                  DType::kF32, f);
    const Tensor dy = ops::cast_to(stream(), to_device(random_tensor(c.shape, DType::kF32, rng, 0.5, 1.5)),
                                   DType::kF32, f);
    const uint64_t seed = 4242, first = 7;
    // One step's words, not a multiple of 4: the offset's position in a Philox block changes from replay to replay.
    const uint64_t words = static_cast<uint64_t>(c.shape.product()) + 3;
    const Tensor st = state(seed, 0);
    const DropoutMask mask{.p = 0.4, .seed = 1, .offset = first, .state = st};  // .seed is ignored
    Tensor y = like(x), dx = like(x);
    ops::dropout_forward(stream(), {.x = x, .y = y, .mask = mask});  // eager warm-up: loads the kernels
    stream().synchronize();
    cuda::CudaGraph graph;
    {
      cuda::GraphCapture capture = graph.capture(stream());
      ops::dropout_forward(stream(), {.x = x, .y = y, .mask = mask});
      ops::dropout_backward(stream(), {.dy = dy, .dx = dx, .mask = mask});
      ops::philox_state_advance(stream(), {.state = st, .n_words = words});
      capture.finish();
    }
    EXPECT_EQ(graph.n_nodes(), 3u);
    std::vector<float> previous;
    for (uint64_t r = 0; r < 4; ++r) {
      graph.replay(stream());
      const std::vector<float> got_y = values<float>(y), got_dx = values<float>(dx);
      const DropoutMask eager{.p = 0.4, .seed = seed, .offset = first + r * words};
      Tensor y_ref = like(x), dx_ref = like(x);
      ops::dropout_forward(stream(), {.x = x, .y = y_ref, .mask = eager});
      ops::dropout_backward(stream(), {.dy = dy, .dx = dx_ref, .mask = eager});
      EXPECT_EQ(got_y, values<float>(y_ref)) << "replay " << r;
      EXPECT_EQ(got_dx, values<float>(dx_ref)) << "replay " << r;
      for (size_t i = 0; i < got_y.size(); ++i)
        ASSERT_EQ(got_y[i] == 0.0f, got_dx[i] == 0.0f) << "replay " << r << " element " << i;
      if (r > 0) {
        EXPECT_NE(got_y, previous) << "replay " << r << " repeated the previous mask";
      }
      previous = got_y;
    }
    const std::vector<int64_t> advanced{static_cast<int64_t>(seed), static_cast<int64_t>(4 * words)};
    EXPECT_EQ(values<int64_t>(st), advanced);
  }
}

// What the trainer does: one eager step, then a captured step whose dropout layers read ctx.philox_state and
// whose last node advances it by the words the step reserved. Replay r must equal eager step r + 1.
TEST_F(DropoutGraphTest, LayersInACapturedStepMatchEagerStepsOfTheSameGenerator) {
  auto make_net = [] {
    auto net = std::make_shared<nn::Sequential>();
    net->emplace<nn::Dropout>(0.5);
    net->emplace<nn::Dropout>(0.2);
    return net;
  };
  Generator data(8);
  const Tensor x = to_device(random_tensor({32, 257}, DType::kF32, data, 0.5, 1.5));
  const Tensor dy = to_device(random_tensor({32, 257}, DType::kF32, data, 0.5, 1.5));
  const int n_replays = 4;
  std::vector<std::vector<float>> eager_y, eager_dx;
  {
    auto net = make_net();
    Generator rng(9);
    nn::RunContext ctx{stream(), &rng};
    for (int step = 0; step <= n_replays; ++step) {
      eager_y.push_back(values<float>(net->forward(ctx, x)));
      eager_dx.push_back(values<float>(net->backward(ctx, dy)));
    }
  }
  auto net = make_net();
  Generator rng(9);
  nn::RunContext ctx{stream(), &rng};
  EXPECT_EQ(values<float>(net->forward(ctx, x)), eager_y[0]);  // warm-up: the workspace buffers
  EXPECT_EQ(values<float>(net->backward(ctx, dy)), eager_dx[0]);
  const Tensor st = state(rng.seed(), 0);
  ctx.philox_state = st;
  cuda::CudaGraph graph;
  Tensor y, dx;
  {
    cuda::GraphCapture capture = graph.capture(stream());
    const uint64_t before = rng.state().offset;
    y = net->forward(ctx, x);
    dx = net->backward(ctx, dy);
    ops::philox_state_advance(stream(), {.state = st, .n_words = rng.state().offset - before});
    capture.finish();
  }
  for (int r = 0; r < n_replays; ++r) {
    graph.replay(stream());
    EXPECT_EQ(values<float>(y), eager_y[static_cast<size_t>(r + 1)]) << "replay " << r;
    EXPECT_EQ(values<float>(dx), eager_dx[static_cast<size_t>(r + 1)]) << "replay " << r;
  }
}

}  // namespace
}  // namespace sprint::testing
