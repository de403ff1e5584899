// optimizer_parity_test.cpp: fused SGD (momentum, Nesterov, weight decay) and Adam/AdamW on every backend.
#include <gtest/gtest.h>

#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

std::vector<Tensor> two_param_sets(Generator& rng) {
  // params, grads, state for two tensors of different sizes.
  std::vector<Tensor> v;
  for (int64_t n : {300, 17}) {
    v.push_back(testing::random_tensor({n}, DType::kF64, rng));
    v.push_back(testing::random_tensor({n}, DType::kF64, rng));
    v.push_back(testing::random_tensor({n}, DType::kF64, rng, 0.0, 1.0));
  }
  return v;
}

Tensor clone(const Stream& s, const Tensor& t) { return ops::cast_to(s, t, t.dtype()); }

TEST(OptimizerParity, SgdNesterovWeightDecay) {
  for (bool first : {true, false}) {
    testing::run_parity(ParityCase{
        .name = first ? "sgd/first_step" : "sgd",
        .make_inputs = two_param_sets,
        .run = [first](const Stream& s, const std::vector<Tensor>& v) {
          std::vector<Tensor> p{clone(s, v[0]), clone(s, v[3])}, g{v[1], v[4]}, b{clone(s, v[2]), clone(s, v[5])};
          SgdHyper h{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true, .grad_scale = 0.5};
          ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = h, .first_step = first});
          ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = h});
          return std::vector<Tensor>{p[0], p[1], b[0], b[1]};
        },
        .cuda_dtypes = {DType::kF32}});
  }
}

TEST(OptimizerParity, AdamAndAdamW) {
  for (bool decoupled : {false, true}) {
    testing::run_parity(ParityCase{
        .name = decoupled ? "adamw" : "adam",
        .make_inputs = two_param_sets,
        .run = [decoupled](const Stream& s, const std::vector<Tensor>& v) {
          std::vector<Tensor> p{clone(s, v[0]), clone(s, v[3])}, g{v[1], v[4]};
          std::vector<Tensor> m{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
          std::vector<Tensor> q{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
          AdamHyper h{.lr = 1e-2, .weight_decay = 0.01, .decoupled_weight_decay = decoupled};
          for (int64_t step = 1; step <= 3; ++step)
            ops::adam_update(s, {.params = p, .grads = g, .exp_avg = m, .exp_avg_sq = q, .hyper = h, .step = step});
          return std::vector<Tensor>{p[0], p[1], m[0], q[1]};
        },
        .cuda_dtypes = {DType::kF32}});
  }
}

}  // namespace
}  // namespace sprint
