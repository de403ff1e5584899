// elementwise_threads_test.cpp: the CPU's large element-wise loops (ReLU forward/backward, axpby, the SGD update)
// split over the context's threads give the same bits as on one thread.
#include <gtest/gtest.h>

#include <cstring>

#include "sprint/core/rng.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cpu {
namespace {

Tensor random_vector(int64_t n, Generator& rng) {
  Tensor t = Tensor::empty({n}, DType::kF32);
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < n; ++i) p[i] = rng.normal();
  return t;
}

std::vector<float> run(int threads) {
  CpuContext& ctx = cpu_context();
  const int saved = ctx.num_threads();
  ctx.set_num_threads(threads);
  const Stream s = ctx.compute_stream();
  constexpr int64_t n = (int64_t{1} << 17) + 3;  // above the parallel threshold, not a multiple of the split
  Generator rng(3);
  const Tensor x = random_vector(n, rng), dy = random_vector(n, rng), b = random_vector(n, rng);
  Tensor y = Tensor::empty({n}, DType::kF32), dx = Tensor::empty({n}, DType::kF32), sum = Tensor::empty({n}, DType::kF32);
  ops::relu_forward(s, x, y);
  ops::relu_backward(s, {.dy = dy, .y = y, .dx = dx});
  ops::relu_backward(s, {.dy = dy, .y = y, .dx = dx, .mode = GradMode::kAccumulate});
  ops::axpby(s, {.a = x, .b = b, .out = sum, .alpha = 0.5, .beta = -2.0});
  Tensor param = random_vector(n, rng), grad = random_vector(n, rng), momentum = Tensor::empty({n}, DType::kF32);
  const std::vector<Tensor> params{param}, grads{grad}, buffers{momentum};
  for (bool first : {true, false})
    ops::sgd_update(s, {.params = params,
                        .grads = grads,
                        .momentum_buffers = buffers,
                        .hyper = {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4, .nesterov = true},
                        .first_step = first});
  ctx.set_num_threads(saved);
  std::vector<float> out;
  for (const Tensor* t : {&y, &dx, &sum, &param, &momentum}) {
    const std::vector<float> v = t->to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(ElementwiseThreads, TwoThreadsGiveTheSameBitsAsOne) {
  const std::vector<float> one = run(1), two = run(2);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace sprint::cpu
