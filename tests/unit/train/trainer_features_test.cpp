// trainer_features_test.cpp: Trainer options beyond the plain epoch loop, on the CPU with the seeded
// synthetic "random" data set: max_steps, drop_last, summed losses, lookahead averaging,
// Model::on_epoch_start and the gradient flow it refreshes; and optim::batch_norm_bias_groups.
#include <gtest/gtest.h>

#include <cmath>

#include "sprint/data/dataset.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/models.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/lookahead.h"
#include "sprint/train/trainer.h"

namespace sprint::train {
namespace {

struct Fixture {
  data::Dataset train, test;
  nn::Model model;
};

// 80 training samples of 6 features, 3 classes; an MLP with cross-entropy (reduction as given).
Fixture make_setup(Reduction reduction = Reduction::kMean) {
  const data::Dataset all = data::make_random_dataset(100, 6, 3, 7);
  Generator rng(3);
  nn::ModelOptions o;
  o.hidden = {8, 5};
  o.loss_reduction = reduction;
  return {data::subset(all, 0, 80), data::subset(all, 80, 20), nn::build_model("mlp2", {6}, 3, rng, o)};
}

std::vector<std::vector<float>> values_of(nn::Module& net) {
  std::vector<std::vector<float>> out;
  for (const auto& [name, p] : net.named_parameters()) out.push_back(p->value().to_vector<float>());
  return out;
}

TrainerOptions small_options() {
  TrainerOptions o;
  o.batch_size = 8;
  o.eval_batch_size = 20;
  o.num_workers = 0;
  return o;
}

TEST(TrainerFeatures, MaxStepsStopsInsideAnEpoch) {
  Fixture s = make_setup();
  optim::SGD sgd(optim::single_group(*s.model.net), optim::SGDOptions(0.1));
  TrainerOptions o = small_options();
  o.max_steps = 13;  // 10 batches an epoch
  Trainer trainer(s.model, sgd, s.train, s.test, o);
  EXPECT_EQ(trainer.total_steps(3), 13);
  EXPECT_EQ(trainer.run_epoch(1, 3).train_samples, 80);
  EXPECT_FALSE(trainer.finished());
  EXPECT_EQ(trainer.run_epoch(2, 3).train_samples, 24);
  EXPECT_TRUE(trainer.finished());
  EXPECT_EQ(trainer.steps_done(), 13);
  EXPECT_EQ(sgd.step_count(), 13);
}

TEST(TrainerFeatures, DropLastSkipsTheShortBatch) {
  Fixture s = make_setup();
  optim::SGD sgd(optim::single_group(*s.model.net), optim::SGDOptions(0.1));
  TrainerOptions o = small_options();
  o.batch_size = 32;
  o.drop_last = true;
  Trainer trainer(s.model, sgd, s.train, s.test, o);
  const EpochStats e = trainer.run_epoch(1, 1);
  EXPECT_EQ(e.train_samples, 64);
  EXPECT_EQ(trainer.steps_done(), 2);
  EXPECT_EQ(e.test.samples, 20);  // evaluation keeps every sample
}

// A summed loss with lr / B trains exactly like a mean loss with lr (equal batches), and the per-sample loss
// the trainer reports is the same.
TEST(TrainerFeatures, SummedLossMatchesMeanLossAtScaledLearningRate) {
  auto run = [](Reduction r, double lr) {
    Fixture s = make_setup(r);
    optim::SGD sgd(optim::single_group(*s.model.net), optim::SGDOptions(lr).with_momentum(0.9));
    Trainer trainer(s.model, sgd, s.train, s.test, small_options());
    const EpochStats e = trainer.run_epoch(1, 1);
    return std::make_pair(e, values_of(*s.model.net));
  };
  const auto [mean, mean_w] = run(Reduction::kMean, 0.1);
  const auto [sum, sum_w] = run(Reduction::kSum, 0.1 / 8);
  EXPECT_NEAR(sum.train_loss, mean.train_loss, 1e-5);
  EXPECT_NEAR(sum.test.loss, mean.test.loss, 1e-5);
  for (size_t i = 0; i < mean_w.size(); ++i)
    for (size_t j = 0; j < mean_w[i].size(); ++j) EXPECT_NEAR(sum_w[i][j], mean_w[i][j], 1e-5);
}

TEST(Lookahead, AveragesAndResetsTheWeights) {
  Generator rng(1);
  nn::Sequential net;
  net.emplace<nn::Linear>(nn::LinearOptions(2, 2), rng);
  net.emplace<nn::BatchNorm2d>(nn::BatchNormOptions(2));
  const Stream s = cpu_context().compute_stream();
  const auto start = values_of(net);
  Lookahead la(s, net);
  const nn::ParameterPtr w = net.named_parameters()[0].second;
  float* v = w->value().data_as<float>();
  for (int i = 0; i < 4; ++i) v[i] += 1.0f;  // "training" moved the weight by 1
  la.update(s, 0.25);  // ema = 0.25 start + 0.75 (start + 1) = start + 0.75; the weight becomes it
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(v[i], start[0][static_cast<size_t>(i)] + 0.75f);
  for (int i = 0; i < 4; ++i) v[i] += 1.0f;
  la.update(s, 0.5);  // ema = 0.5 (start + 0.75) + 0.5 (start + 1.75)
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(v[i], start[0][static_cast<size_t>(i)] + 1.25f);
  // BatchNorm's running statistics are averaged too.
  nn::BatchNorm2d& bn = static_cast<nn::BatchNorm2d&>(net[1]);
  bn.running_mean().data_as<float>()[0] = 4.0f;
  la.update(s, 0.5);
  EXPECT_FLOAT_EQ(bn.running_mean().data_as<float>()[0], 2.0f);
}

// Decay 1 on every step: the average never moves, so every step's update is undone and the run ends on the
// initial weights.
TEST(TrainerFeatures, LookaheadWithDecayOneKeepsTheInitialWeights) {
  Fixture s = make_setup();
  const auto initial = values_of(*s.model.net);
  optim::SGD sgd(optim::single_group(*s.model.net), optim::SGDOptions(0.5));
  TrainerOptions o = small_options();
  o.lookahead = {.every = 1, .base = 1.0, .power = 0.0};
  Trainer trainer(s.model, sgd, s.train, s.test, o);
  trainer.run_epoch(1, 1);
  EXPECT_EQ(values_of(*s.model.net), initial);
  EXPECT_DOUBLE_EQ(o.lookahead.decay(5, 10), 1.0);
  const LookaheadOptions airbench;
  EXPECT_NEAR(airbench.decay(238, 476), std::pow(0.95, 5) / 8.0, 1e-15);
}

// A frozen front layer: the layer after it skips its input gradient once the hook froze it (and the trainer
// refreshed the gradient flow), and the frozen weight stays bit-identical.
TEST(TrainerFeatures, EpochHookFreezesAndTheGradientFlowFollows) {
  Fixture s = make_setup();
  auto& first = static_cast<nn::Linear&>((*s.model.net)[1]);  // after the Flatten
  auto& second = static_cast<nn::Linear&>((*s.model.net)[2]);
  s.model.on_epoch_start = [&](int64_t epoch) {
    first.weight()->set_trainable(epoch == 0);
    if (first.bias()) first.bias()->set_trainable(epoch == 0);
  };
  optim::SGD sgd(optim::single_group(*s.model.net), optim::SGDOptions(0.1));
  Trainer trainer(s.model, sgd, s.train, s.test, small_options());
  trainer.run_epoch(1, 2);
  EXPECT_TRUE(second.needs_input_grad());
  const std::vector<float> frozen = first.weight()->value().to_vector<float>();
  trainer.run_epoch(2, 2);
  EXPECT_FALSE(second.needs_input_grad());
  EXPECT_EQ(first.weight()->value().to_vector<float>(), frozen);
}

TEST(ParameterGroups, BatchNormBiasesGetTheirOwnLearningRateAndDecay) {
  Generator rng(2);
  nn::Sequential net;
  net.emplace<nn::Conv2d>(nn::ConvOptions(3, 4, 3), rng);
  net.emplace<nn::BatchNorm2d>(nn::BatchNormOptions(4));
  const auto groups = optim::batch_norm_bias_groups(net, 64.0, 0.5);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].params.size(), 1u);  // the BN bias
  EXPECT_EQ(groups[0].params[0], static_cast<nn::BatchNorm2d&>(net[1]).bias());
  EXPECT_DOUBLE_EQ(groups[0].lr_scale, 64.0);
  EXPECT_DOUBLE_EQ(*groups[0].weight_decay, 0.5 / 64.0);
  EXPECT_EQ(groups[1].params.size(), 3u);  // conv weight, conv bias, BN weight
  EXPECT_DOUBLE_EQ(*groups[1].weight_decay, 0.5);
  EXPECT_THROW(optim::batch_norm_bias_groups(net, 0.0, 0.5), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
