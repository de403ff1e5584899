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
        .dtypes = {DType::kF32}});
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
        .dtypes = {DType::kF32}});
  }
}

// Params, grads and momentum of two tensors as two_param_sets, then a 0/1 update mask for each (about half kept).
std::vector<Tensor> masked_param_sets(Generator& rng) {
  std::vector<Tensor> v = two_param_sets(rng);
  for (int64_t n : {300, 17}) {
    const std::vector<double> u = testing::random_tensor({n}, DType::kF64, rng, 0.0, 1.0).to_vector<double>();
    std::vector<double> keep;
    for (double x : u) keep.push_back(x < 0.5 ? 0.0 : 1.0);
    v.push_back(Tensor::from_values(keep, {n}));
  }
  return v;
}

// Sparse training: the update masked (frozen entries untouched, their fresh momentum 0) or only the gradient.
TEST(OptimizerParity, UpdateMasksFreezeOrMaskTheGradient) {
  for (UpdateMaskMode mode : {UpdateMaskMode::kFreeze, UpdateMaskMode::kGradientOnly}) {
    testing::run_parity(ParityCase{
        .name = mode == UpdateMaskMode::kFreeze ? "masked/freeze" : "masked/gradient-only",
        .make_inputs = masked_param_sets,
        .run = [mode](const Stream& s, const std::vector<Tensor>& v) {
          const std::vector<Tensor> masks{v[6], v[7]}, g{v[1], v[4]};
          std::vector<Tensor> p{clone(s, v[0]), clone(s, v[3])};
          std::vector<Tensor> b{ops::zeros(s, v[2].shape(), v[2].dtype()), ops::zeros(s, v[5].shape(), v[5].dtype())};
          const SgdHyper sh{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true};
          ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = sh, .first_step = true,
                              .masks = masks, .mask_mode = mode});
          ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = sh, .masks = masks,
                              .mask_mode = mode});
          std::vector<Tensor> q{clone(s, v[0]), clone(s, v[3])};
          std::vector<Tensor> m{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
          std::vector<Tensor> w{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
          const AdamHyper ah{.lr = 1e-2, .weight_decay = 0.01, .decoupled_weight_decay = true};
          for (int64_t step = 1; step <= 2; ++step)
            ops::adam_update(s, {.params = q, .grads = g, .exp_avg = m, .exp_avg_sq = w, .hyper = ah, .step = step,
                                 .masks = masks, .mask_mode = mode});
          return std::vector<Tensor>{p[0], p[1], b[0], b[1], q[0], q[1], m[0], w[1]};
        },
        .dtypes = {DType::kF32}});
  }
}

/// A step-values tensor (lr, momentum, grad scale, step) on s's device.
Tensor step_values(const Stream& s, double lr, double momentum, double grad_scale, double step) {
  return ops::to_stream_device(s, Tensor::from_values(std::vector<double>{lr, momentum, grad_scale, step}, {4}));
}

// Per-step values read from a device tensor when the kernels run (lr x lr_scale, SGD momentum or Adam's beta1,
// gradient scale, Adam's step), changing from one update to the next as a schedule would, on every backend.
TEST(OptimizerParity, StepValuesFromTheDevice) {
  testing::run_parity(ParityCase{
      .name = "sgd+adam/step-values",
      .make_inputs = two_param_sets,
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        std::vector<Tensor> p{clone(s, v[0]), clone(s, v[3])}, g{v[1], v[4]}, b{clone(s, v[2]), clone(s, v[5])};
        const SgdHyper sh{.momentum = 0.9, .weight_decay = 5e-4, .nesterov = true, .lr_scale = 0.5};
        ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = sh, .first_step = true,
                            .step_values = step_values(s, 0.1, 0.9, 0.5, 1)});
        ops::sgd_update(s, {.params = p, .grads = g, .momentum_buffers = b, .hyper = sh,
                            .step_values = step_values(s, 0.02, 0.5, 0.25, 2)});
        std::vector<Tensor> q{clone(s, v[0]), clone(s, v[3])};
        std::vector<Tensor> m{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
        std::vector<Tensor> w{ops::zeros(s, v[0].shape(), v[0].dtype()), ops::zeros(s, v[3].shape(), v[3].dtype())};
        const AdamHyper ah{.weight_decay = 0.01, .decoupled_weight_decay = true, .lr_scale = 2.0};
        for (int step = 1; step <= 3; ++step)
          ops::adam_update(s, {.params = q, .grads = g, .exp_avg = m, .exp_avg_sq = w, .hyper = ah,
                               .step_values = step_values(s, 1e-2 / step, 0.95 - 0.05 * step, 1.0 / step, step)});
        return std::vector<Tensor>{p[0], p[1], b[0], q[0], q[1], m[1]};
      },
      .dtypes = {DType::kF32}});
}

// On the host the two ways of passing a step's values give the same bits.
TEST(Optimizer, StepValuesEqualTheLaunchValues) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  Generator rng(7);
  const std::vector<Tensor> v = two_param_sets(rng);
  std::vector<Tensor> p1{clone(s, v[0])}, p2{clone(s, v[0])}, g{v[1]}, b1{clone(s, v[2])}, b2{clone(s, v[2])};
  for (int step = 1; step <= 2; ++step) {
    const double lr = 0.1 / step, momentum = step == 1 ? 0.9 : 0.5, scale = 1.0 / step;
    ops::sgd_update(s, {.params = p1, .grads = g, .momentum_buffers = b1,
                        .hyper = {.lr = lr * 0.5, .momentum = momentum, .grad_scale = scale}, .first_step = step == 1});
    ops::sgd_update(s, {.params = p2, .grads = g, .momentum_buffers = b2,
                        .hyper = {.momentum = 0.9, .lr_scale = 0.5}, .first_step = step == 1,
                        .step_values = step_values(s, lr, momentum, scale, step)});
  }
  EXPECT_EQ(p1[0].to_vector<double>(), p2[0].to_vector<double>());
  EXPECT_EQ(b1[0].to_vector<double>(), b2[0].to_vector<double>());
  EXPECT_THROW(ops::sgd_update(s, {.params = p1, .grads = g, .momentum_buffers = b1, .hyper = {.momentum = 0.9},
                                   .step_values = Tensor::empty({3}, DType::kF64)}),
               InvalidArgument);
}

}  // namespace
}  // namespace sprint
