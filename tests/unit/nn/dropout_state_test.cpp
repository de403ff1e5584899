// dropout_state_test.cpp: dropout with its Philox seed and base offset in a state tensor (DropoutMask::state,
// RunContext::philox_state), the mechanism a captured CUDA graph uses to draw a new mask per replay. On the CPU
// the state is host memory: the mask with a state equals the mask with the folded-in (seed, offset), and a step
// re-run with the offsets reserved once but the base advanced by one step's words reproduces the next eager step.
#include <gtest/gtest.h>

#include <vector>

#include "sprint/nn/dropout.h"
#include "sprint/nn/sequential.h"
#include "sprint/ops/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

Stream cpu() { return cpu_context().compute_stream(); }

Tensor state_tensor(uint64_t seed, uint64_t base) {
  return Tensor::from_values(std::vector<int64_t>{static_cast<int64_t>(seed), static_cast<int64_t>(base)}, {2});
}

TEST(DropoutState, OpsTakeSeedAndBaseFromTheState) {
  Generator rng(1);
  for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
    const Tensor x = ops::cast_to(cpu(), testing::random_tensor({2, 3, 4, 5}, DType::kF64, rng, 0.5, 1.5),
                                  DType::kF32, format);
    const DropoutMask absolute{.p = 0.3, .seed = 77, .offset = 1005};
    const DropoutMask stateful{.p = 0.3, .seed = 12345, .offset = 5, .state = state_tensor(77, 1000)};
    Tensor y_abs = Tensor::empty(x.shape(), DType::kF32, cpu_context().allocator(), format);
    Tensor y_state = Tensor::empty(x.shape(), DType::kF32, cpu_context().allocator(), format);
    ops::dropout_forward(cpu(), {.x = x, .y = y_abs, .mask = absolute});
    ops::dropout_forward(cpu(), {.x = x, .y = y_state, .mask = stateful});
    EXPECT_EQ(y_state.to_vector<float>(), y_abs.to_vector<float>());
    Tensor dx_abs = Tensor::empty(x.shape(), DType::kF32, cpu_context().allocator(), format);
    Tensor dx_state = Tensor::empty(x.shape(), DType::kF32, cpu_context().allocator(), format);
    ops::dropout_backward(cpu(), {.dy = x, .dx = dx_abs, .mask = absolute});
    ops::dropout_backward(cpu(), {.dy = x, .dx = dx_state, .mask = stateful});
    EXPECT_EQ(dx_state.to_vector<float>(), dx_abs.to_vector<float>());
    // A different base is a different mask.
    const DropoutMask shifted{.p = 0.3, .seed = 0, .offset = 5, .state = state_tensor(77, 1001)};
    ops::dropout_forward(cpu(), {.x = x, .y = y_state, .mask = shifted});
    EXPECT_NE(y_state.to_vector<float>(), y_abs.to_vector<float>());
  }
}

TEST(DropoutState, AdvanceAddsToTheBaseOnly) {
  Tensor state = state_tensor(77, 1000);
  ops::philox_state_advance(cpu(), {.state = state, .n_words = 123});
  EXPECT_EQ(state.to_vector<int64_t>(), (std::vector<int64_t>{77, 1123}));
  ops::philox_state_advance(cpu(), {.state = state, .n_words = 0});
  EXPECT_EQ(state.to_vector<int64_t>(), (std::vector<int64_t>{77, 1123}));
  const Tensor wrong_dtype = Tensor::from_values(std::vector<float>{1.0f, 2.0f}, {2});
  const Tensor wrong_shape = Tensor::from_values(std::vector<int64_t>{1, 2, 3}, {3});
  EXPECT_THROW(ops::philox_state_advance(cpu(), {.state = wrong_dtype, .n_words = 1}), InvalidArgument);
  EXPECT_THROW(ops::philox_state_advance(cpu(), {.state = wrong_shape, .n_words = 1}), InvalidArgument);
  const Tensor x = ops::full(cpu(), {8}, DType::kF32, 1.0);
  Tensor y = Tensor::empty({8}, DType::kF32);
  EXPECT_THROW(ops::dropout_forward(cpu(), {.x = x, .y = y, .mask = {.p = 0.5, .state = wrong_shape}}),
               InvalidArgument);
}

// Two dropout layers per step, as the trainer's graph uses them: the "replayed" step keeps the offsets the host
// reserved once (as kernel arguments baked into a graph would) and only the state's base moves, by the words one
// step reserves. Every replay must equal the eager step at the same position, forward and backward.
TEST(DropoutState, ReplayWithAdvancedBaseMatchesEagerSteps) {
  const Shape shape{4, 30};
  const Tensor x = ops::full(cpu(), shape, DType::kF32, 1.0);
  auto make_net = [] {
    auto net = std::make_shared<Sequential>();
    net->emplace<Dropout>(0.5);
    net->emplace<Dropout>(0.25);
    return net;
  };
  const int n_steps = 4;
  // Eager: every step reserves fresh offsets from the generator.
  std::vector<std::vector<float>> eager_y, eager_dx;
  {
    auto net = make_net();
    Generator rng(5);
    rng.reserve(3);  // a generator that has been used before
    RunContext ctx{cpu(), &rng};
    for (int step = 0; step < n_steps; ++step) {
      eager_y.push_back(net->forward(ctx, x).to_vector<float>());
      eager_dx.push_back(net->backward(ctx, x).to_vector<float>());
    }
  }
  // "Graph": the host reserves the offsets of the first step only; the base advances per replay.
  auto net = make_net();
  Generator rng(5);
  rng.reserve(3);
  const GeneratorState capture = rng.state();
  Tensor state = state_tensor(capture.seed, 0);
  RunContext ctx{cpu(), &rng};
  ctx.philox_state = state;
  uint64_t words_per_step = 0;
  for (int step = 0; step < n_steps; ++step) {
    rng.set_state(capture);  // the same offsets every replay
    const std::vector<float> y = net->forward(ctx, x).to_vector<float>();
    const std::vector<float> dx = net->backward(ctx, x).to_vector<float>();
    words_per_step = rng.state().offset - capture.offset;
    EXPECT_EQ(y, eager_y[static_cast<size_t>(step)]) << "step " << step;
    EXPECT_EQ(dx, eager_dx[static_cast<size_t>(step)]) << "step " << step;
    ops::philox_state_advance(cpu(), {.state = state, .n_words = words_per_step});
  }
  EXPECT_EQ(words_per_step, 2u * static_cast<uint64_t>(shape.product()));
  EXPECT_NE(eager_y[0], eager_y[1]);
}

}  // namespace
}  // namespace sprint::nn
