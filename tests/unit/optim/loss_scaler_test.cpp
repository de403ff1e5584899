// loss_scaler_test.cpp: dynamic loss scaling on the CPU. The scale follows PyTorch's GradScaler update rule
// (torch.cuda.amp.GradScaler / torch._amp_update_scale_: backoff x0.5 and the growth tracker reset on
// inf/NaN, x2 after growth_interval clean steps in a row); unscaling divides every gradient (f32, f64, f16,
// bf16) by the scale and flags an inf or NaN. In the Trainer: a batch with an inf input skips its step (the
// weights stay bit for bit), and on clean f32 steps a power-of-two scale changes nothing (the products by 2^k
// are exact).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/data/dataset.h"
#include "sprint/data/sampler.h"
#include "sprint/nn/models.h"
#include "sprint/ops/loss_scale.h"
#include "sprint/optim/loss_scaler.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/trainer.h"

namespace sprint::optim {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

Tensor grad_of(std::vector<float> v) {
  return Tensor::from_values(v, {static_cast<int64_t>(v.size())});
}

// Scales after each step of the pattern (true = the step's gradients hold an inf), init 4, interval 3: the
// values GradScaler(init_scale=4, growth_interval=3) reports via get_scale() after each update().
TEST(LossScaler, ScaleFollowsGradScalerUpdates) {
  LossScaler scaler(cpu(), {.init_scale = 4.0, .growth_interval = 3});
  const std::vector<bool> inf = {false, false, false, true, false, false, false, true, true, false};
  const std::vector<double> want = {4, 4, 8, 4, 4, 4, 8, 4, 2, 2};
  int64_t skipped = 0;
  for (size_t t = 0; t < inf.size(); ++t) {
    const float bad = std::numeric_limits<float>::infinity();
    const Tensor g = grad_of({1.0f, inf[t] ? bad : 2.0f});
    const std::vector<Tensor> grads = {g};
    EXPECT_EQ(scaler.unscale_and_update(cpu(), grads), inf[t]) << "step " << t + 1;
    skipped += inf[t];
    EXPECT_EQ(scaler.scale(cpu()), want[t]) << "step " << t + 1;
  }
  EXPECT_EQ(scaler.skipped_steps(), skipped);
  // The state survives a checkpoint round trip.
  LossScaler copy(cpu(), {.init_scale = 1.0, .growth_interval = 3});
  copy.load_state(cpu(), scaler.state(cpu()), scaler.skipped_steps());
  EXPECT_EQ(copy.scale(cpu()), 2.0);
  EXPECT_EQ(copy.skipped_steps(), skipped);
}

TEST(LossScaler, UnscaleDividesAndFlagsEveryDtype) {
  LossScaler scaler(cpu(), {.init_scale = 8.0});
  const Tensor loss_grad = grad_of({0.5f, -1.0f});
  scaler.scale_gradient(cpu(), loss_grad);
  EXPECT_EQ(loss_grad.to_vector<float>(), (std::vector<float>{4.0f, -8.0f}));

  const Tensor f32 = grad_of({8.0f, -2.0f, 0.25f});
  const Tensor f64 = Tensor::from_values(std::vector<double>{16.0, 3.0}, {2});
  Tensor half = Tensor::empty({2}, DType::kF16), brain = Tensor::empty({2}, DType::kBF16);
  half.data_as<f16>()[0] = f16_from_float(24.0f);
  half.data_as<f16>()[1] = f16_from_float(-0.5f);
  brain.data_as<bf16>()[0] = bf16_from_float(40.0f);
  brain.data_as<bf16>()[1] = bf16_from_float(1.0f);
  const std::vector<Tensor> grads = {f32, f64, half, brain};
  EXPECT_FALSE(scaler.unscale_and_update(cpu(), grads));
  EXPECT_EQ(f32.to_vector<float>(), (std::vector<float>{1.0f, -0.25f, 0.03125f}));
  EXPECT_EQ(f64.to_vector<double>(), (std::vector<double>{2.0, 0.375}));
  EXPECT_EQ(f16_to_float(half.data_as<f16>()[0]), 3.0f);
  EXPECT_EQ(f16_to_float(half.data_as<f16>()[1]), -0.0625f);
  EXPECT_EQ(bf16_to_float(brain.data_as<bf16>()[0]), 5.0f);
  EXPECT_EQ(bf16_to_float(brain.data_as<bf16>()[1]), 0.125f);

  // A NaN anywhere (here in a half gradient) flags the step.
  half.data_as<f16>()[1] = f16_from_float(std::nanf(""));
  EXPECT_TRUE(scaler.unscale_and_update(cpu(), grads));
  EXPECT_EQ(scaler.scale(cpu()), 4.0);
}

TEST(LossScaler, BadSettingsAreInvalidArguments) {
  EXPECT_THROW(LossScaler(cpu(), {.init_scale = 0.0}), InvalidArgument);
  EXPECT_THROW(LossScaler(cpu(), {.init_scale = std::numeric_limits<double>::infinity()}), InvalidArgument);
  EXPECT_THROW(LossScaler(cpu(), {.growth_factor = 1.0}), InvalidArgument);
  EXPECT_THROW(LossScaler(cpu(), {.backoff_factor = 1.0}), InvalidArgument);
  EXPECT_THROW(LossScaler(cpu(), {.growth_interval = 0}), InvalidArgument);
  const Tensor wrong = Tensor::empty({2}, DType::kF32);
  EXPECT_THROW(ops::loss_scale_update(cpu(), {.state = wrong}), InvalidArgument);
}

// The trainer on an MLP: 40 samples in batches of 8 (5 steps an epoch); the poisoned sample, with an inf
// feature, is the first of epoch 1's second batch (the loader's order for seed 0: data::fill_epoch_order).
struct TrainRun {
  std::vector<std::vector<float>> params;
  std::vector<train::EpochStats> epochs;
};

std::vector<int32_t> epoch_order(int64_t epoch) {
  std::vector<int32_t> order(40);
  data::fill_epoch_order(order, true, 0, epoch);
  return order;
}
int32_t poisoned_sample() {
  return epoch_order(0)[8];
}
// The batch (0-based) that holds the poisoned sample in epoch `epoch` (0-based).
int64_t poisoned_batch(int64_t epoch) {
  const std::vector<int32_t> order = epoch_order(epoch);
  for (int64_t i = 0; i < 40; ++i)
    if (order[static_cast<size_t>(i)] == poisoned_sample()) return i / 8;
  return -1;
}

TrainRun train_mlp(bool poison, bool scaling, int64_t epochs = 2, int64_t max_steps = 0) {
  data::Dataset all = data::make_random_dataset(50, 6, 3, 5);
  if (poison) all.inputs.data_as<float>()[poisoned_sample() * 6 + 2] = std::numeric_limits<float>::infinity();
  const data::Dataset train_set = data::subset(all, 0, 40), test_set = data::subset(all, 40, 10);
  Generator rng(2);
  nn::Model model = nn::build_model("mlp2", {6}, 3, rng, {.hidden = {8, 5}});
  SGD sgd(single_group(*model.net), SGDOptions(0.1).with_momentum(0.9));
  train::TrainerOptions o;
  o.batch_size = 8;
  o.eval_batch_size = 10;
  o.num_workers = 0;
  o.seed = 0;
  o.stop_on_nonfinite = false;  // the poisoned batch's loss is not finite
  o.max_steps = max_steps;
  if (scaling) o.loss_scaling = LossScalerOptions{.init_scale = 1024.0, .growth_interval = 3};
  train::Trainer trainer(model, sgd, train_set, test_set, o);
  TrainRun r;
  for (int64_t e = 1; e <= epochs && !trainer.finished(); ++e)
    r.epochs.push_back(trainer.run_epoch(e, epochs));
  for (const nn::ParameterPtr& p : model.net->parameters()) r.params.push_back(p->value().to_vector<float>());
  return r;
}

TEST(LossScaler, TrainerSkipsTheStepWithAnInfGradient) {
  const TrainRun before = train_mlp(true, true, 1, 1);   // the one clean step before the poisoned batch
  const TrainRun through = train_mlp(true, true, 1, 2);  // and the poisoned batch's step
  EXPECT_EQ(through.params, before.params) << "the skipped step changed the weights";
  EXPECT_EQ(through.epochs[0].skipped_steps, 1);
  EXPECT_EQ(through.epochs[0].loss_scale, 512.0);  // 1024 halved once

  const TrainRun full = train_mlp(true, true);
  ASSERT_EQ(full.epochs.size(), 2u);
  for (const train::EpochStats& e : full.epochs) EXPECT_EQ(e.skipped_steps, 1) << "epoch " << e.epoch;
  for (const std::vector<float>& p : full.params)
    for (float v : p) EXPECT_TRUE(std::isfinite(v));
  // The scale at each epoch's end: GradScaler's rule (checked above) over the steps, the poisoned one
  // skipped.
  double scale = 1024.0;
  int64_t tracker = 0;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    for (int64_t b = 0; b < 5; ++b) {
      if (b == poisoned_batch(epoch)) {
        scale *= 0.5;
        tracker = 0;
      } else if (++tracker == 3) {
        scale *= 2.0;
        tracker = 0;
      }
    }
    EXPECT_EQ(full.epochs[static_cast<size_t>(epoch)].loss_scale, scale) << "epoch " << epoch + 1;
  }
  // Without the scaler the inf reaches the weights.
  const TrainRun unscaled = train_mlp(true, false);
  bool nonfinite = false;
  for (const std::vector<float>& p : unscaled.params)
    for (float v : p) nonfinite |= !std::isfinite(v);
  EXPECT_TRUE(nonfinite);
}

TEST(LossScaler, CleanF32StepsAreUnchangedByAPowerOfTwoScale) {
  const TrainRun scaled = train_mlp(false, true), plain = train_mlp(false, false);
  EXPECT_EQ(scaled.params, plain.params);
  EXPECT_EQ(scaled.epochs[1].skipped_steps, 0);
  EXPECT_EQ(scaled.epochs[1].loss_scale, 1024.0 * 8);  // 10 clean steps, interval 3: three doublings
}

}  // namespace
}  // namespace sprint::optim
