// pipeline_test.cpp: pipelined training through the Trainer on the CPU: one stage with any weight policy is
// plain training bit for bit; GPipe's sync policy equals plain training on the same batches for any K; the
// measured staleness of every stage equals what a simulation of the 1F1B order counts; results never depend
// on the stage threads' timing; stash and SpecTrain really change the weights the passes see.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "sprint/data/dataset.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/pipeline.h"
#include "sprint/train/pipeline_schedule.h"
#include "sprint/train/trainer.h"
#include "pipeline_test_setup.h"

namespace sprint::train {
namespace {

struct PipelineRun {
  std::vector<std::vector<float>> weights;
  std::vector<EpochStats> epochs;
  std::vector<StageReport> stages;
  std::string boundaries;
};

using pipeline_setup::kLr;
using pipeline_setup::kMomentum;
using pipeline_setup::make_sgd;

// mlp2 (Flatten, fc1 + ReLU, fc2 + ReLU, fc3: 4 layers) on 160 random samples, batch 16 (10 mini-batches an
// epoch).
PipelineRun train(std::optional<PipelineOptions> pipeline, int epochs = 2,
                  const std::atomic<bool>* stop = nullptr) {
  auto [train_set, test_set, model] = pipeline_setup::mlp2();
  auto sgd = make_sgd(*model.net);
  TrainerOptions o = pipeline_setup::trainer_options(16, 40, 9);
  o.stop_requested = stop;
  if (pipeline) {
    pipeline->make_optimizer = make_sgd;
    o.pipeline = pipeline;
  }
  Trainer trainer(model, *sgd, train_set, test_set, o);
  PipelineRun r;
  for (int e = 1; e <= epochs && !trainer.finished(); ++e) r.epochs.push_back(trainer.run_epoch(e, epochs));
  for (const auto& [name, p] : model.net->named_parameters())
    r.weights.push_back(p->value().to_vector<float>());
  r.stages = trainer.pipeline_stages();
  r.boundaries = trainer.pipeline_boundaries();
  return r;
}

PipelineOptions stages(int k, WeightPolicy policy, StageBoundaries b = {}, int64_t micro_batches = 1) {
  PipelineOptions p;
  p.stages = k;
  p.policy = policy;
  p.boundaries = std::move(b);
  p.micro_batches = micro_batches;
  return p;
}

double max_difference(const PipelineRun& a, const PipelineRun& b) {
  double d = 0.0;
  for (size_t i = 0; i < a.weights.size(); ++i)
    for (size_t j = 0; j < a.weights[i].size(); ++j)
      d = std::max(d, std::abs(static_cast<double>(a.weights[i][j]) - b.weights[i][j]));
  return d;
}

TEST(Pipeline, OneStageIsPlainTrainingBitForBit) {
  const PipelineRun plain = train(std::nullopt);
  for (WeightPolicy p :
       {WeightPolicy::kNone, WeightPolicy::kStash, WeightPolicy::kSpecTrain, WeightPolicy::kSync}) {
    const PipelineRun one = train(stages(1, p));
    EXPECT_EQ(one.weights, plain.weights) << weight_policy_name(p);
    ASSERT_EQ(one.epochs.size(), plain.epochs.size());
    for (size_t e = 0; e < one.epochs.size(); ++e) {
      EXPECT_EQ(one.epochs[e].train_loss, plain.epochs[e].train_loss) << weight_policy_name(p);
      EXPECT_EQ(one.epochs[e].test.accuracy, plain.epochs[e].test.accuracy) << weight_policy_name(p);
      EXPECT_EQ(one.epochs[e].train_samples, 160);
    }
    ASSERT_EQ(one.stages.size(), 1u);
    EXPECT_EQ(one.stages[0].updates, 20);
    EXPECT_EQ(one.stages[0].max_staleness, 0);
  }
}

// GPipe: K stages, M micro-batches, one update per mini-batch: the same as plain training on the same batches
// (a model without BatchNorm), up to the rounding of summing the micro-batches' gradients.
TEST(Pipeline, SyncEqualsPlainTrainingForAnyK) {
  const PipelineRun plain = train(std::nullopt);
  for (int K : {2, 3, 4})  // with K = 4 stage 0 is the Flatten alone: a stage without parameters
    for (int64_t M : {1, 2, 4}) {
      const PipelineRun sync = train(stages(K, WeightPolicy::kSync, boundaries_by_index(4, K), M));
      EXPECT_LT(max_difference(sync, plain), 2e-5) << "K " << K << " M " << M;
      EXPECT_NEAR(sync.epochs.back().train_loss, plain.epochs.back().train_loss, 1e-5)
          << "K " << K << " M " << M;
      for (const StageReport& s : sync.stages) {
        EXPECT_EQ(s.updates, 20);
        EXPECT_EQ(s.max_staleness, 0);
      }
    }
}

// Stage k's measured forward-to-backward version gaps are those of the simulated 1F1B order (K - k - 1 in the
// steady state, fewer for the first mini-batches of each epoch), whatever the threads' timing.
TEST(Pipeline, MeasuredStalenessEqualsTheSimulatedSchedule) {
  for (int K : {2, 3}) {
    const PipelineRun r = train(stages(K, WeightPolicy::kNone, boundaries_by_index(4, K)));
    const std::vector<SimulatedStage> sim = simulate_one_f_one_b(K, 10, 1.0, 1.0);
    ASSERT_EQ(r.stages.size(), static_cast<size_t>(K));
    for (int k = 0; k < K; ++k) {
      double expected = 0.0;
      for (int64_t gap : sim[static_cast<size_t>(k)].forward_to_backward)
        expected += static_cast<double>(gap);
      expected /= 10.0;  // the same gaps in each of the two epochs (the pipeline drains at each epoch's end)
      const StageReport& s = r.stages[static_cast<size_t>(k)];
      EXPECT_DOUBLE_EQ(s.mean_staleness, expected) << "K " << K << " stage " << k;
      EXPECT_EQ(s.max_staleness, K - k - 1) << "K " << K << " stage " << k;
      EXPECT_EQ(s.updates, 20);
      EXPECT_GT(s.busy_seconds, 0.0);
    }
  }
}

// Random sleeps (0-400 us) before every pass and update of every stage, different in each run: no deadlock, and
// the same weights bit for bit as the undisturbed run (the schedule, not the threads' timing, fixes the results).
TEST(Pipeline, ResultsDoNotDependOnTheThreadsTiming) {
  for (WeightPolicy p : {WeightPolicy::kNone, WeightPolicy::kStash, WeightPolicy::kSpecTrain, WeightPolicy::kSync}) {
    const int64_t M = p == WeightPolicy::kSync ? 2 : 1;
    const PipelineRun calm = train(stages(3, p, {0, 2, 3}, M));
    for (uint64_t seed : {1u, 2u, 3u}) {
      std::atomic<uint64_t> calls{0};
      PipelineOptions shaken = stages(3, p, {0, 2, 3}, M);
      shaken.before_pass = [&calls, seed](int stage, PipelineSpanKind) {
        const uint64_t word = philox_word(seed, calls.fetch_add(1) * 4 + static_cast<uint64_t>(stage));
        std::this_thread::sleep_for(std::chrono::microseconds(word % 400));
      };
      const PipelineRun b = train(shaken);
      EXPECT_GT(calls.load(), 100u);  // every pass of every stage was shaken
      EXPECT_EQ(b.weights, calm.weights) << weight_policy_name(p) << " seed " << seed;
      EXPECT_EQ(b.epochs.back().train_loss, calm.epochs.back().train_loss) << weight_policy_name(p);
    }
  }
}

// Stale weights change the training: the policies give different weights from plain training and from each
// other, and every one of them still trains (the loss goes down).
TEST(Pipeline, PoliciesSeeDifferentWeights) {
  const PipelineRun plain = train(std::nullopt, 3);
  const PipelineRun none = train(stages(3, WeightPolicy::kNone, {0, 2, 3}), 3);
  const PipelineRun stash = train(stages(3, WeightPolicy::kStash, {0, 2, 3}), 3);
  const PipelineRun spectrain = train(stages(3, WeightPolicy::kSpecTrain, {0, 2, 3}), 3);
  EXPECT_GT(max_difference(none, plain), 1e-4);
  EXPECT_GT(max_difference(stash, none), 1e-6);
  EXPECT_GT(max_difference(spectrain, none), 1e-6);
  for (const PipelineRun* r : {&none, &stash, &spectrain})
    EXPECT_LT(r->epochs.back().train_loss, r->epochs.front().train_loss);
  EXPECT_EQ(spectrain.boundaries, "0-1 | 2 | 3");
  // SpecTrain's configured version differences and a sampled prediction error on the stages that predict.
  for (const StageReport& s : spectrain.stages) {
    EXPECT_EQ(s.version_difference.forward, spectrain_version_difference(s.stage, 3).forward);
    if (s.version_difference.forward > 0) {
      EXPECT_GT(s.prediction_error.samples, 0) << "stage " << s.stage;
      EXPECT_GT(s.prediction_error.relative, 0.0);
      EXPECT_LT(s.prediction_error.relative, 1.0);
    }
  }
}

TEST(Pipeline, BalancedStagesAndAStopRequest) {
  const PipelineRun balanced = train(stages(2, WeightPolicy::kNone));
  ASSERT_EQ(balanced.stages.size(), 2u);
  EXPECT_FALSE(balanced.boundaries.empty());
  std::atomic<bool> stop{true};  // requested before the first step: the fed mini-batch still completes
  const PipelineRun stopped = train(stages(2, WeightPolicy::kNone, {0, 2}), 2, &stop);
  ASSERT_EQ(stopped.epochs.size(), 1u);
  EXPECT_EQ(stopped.epochs[0].train_samples, 16);
  EXPECT_EQ(stopped.stages[0].updates, 1);
}

TEST(Pipeline, RefusesWhatItCannotDo) {
  const data::Dataset all = data::make_random_dataset(40, 6, 3, 11);
  Generator rng(5);
  nn::Model model = nn::build_model("mlp2", {6}, 3, rng, {});
  auto sgd = make_sgd(*model.net);
  TrainerOptions o;
  o.num_workers = 0;
  o.pipeline = stages(2, WeightPolicy::kNone);
  o.pipeline->make_optimizer = make_sgd;
  o.accumulate_steps = 2;
  EXPECT_THROW(Trainer(model, *sgd, all, all, o), InvalidArgument);
  o.accumulate_steps = 1;
  o.pipeline->micro_batches = 2;  // micro-batches are the sync policy's
  Trainer t(model, *sgd, all, all, o);
  EXPECT_THROW(t.run_epoch(1, 1), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train

namespace sprint::train {
namespace {

// An MLP with dropout in two stages (so stage 1 draws from a generator of its own).
nn::Model dropout_mlp(Generator& rng) {
  nn::Model m;
  m.name = "mlp-dropout";
  m.net = std::make_shared<nn::Sequential>();
  m.net->emplace<nn::Flatten>();
  m.net->emplace<nn::Linear>(nn::LinearOptions(6, 12).with_activation(Activation::kReLU), rng);
  m.net->emplace<nn::Dropout>(0.2);
  m.net->emplace<nn::Linear>(nn::LinearOptions(12, 8).with_activation(Activation::kReLU), rng);
  m.net->emplace<nn::Dropout>(0.2);
  m.net->emplace<nn::Linear>(nn::LinearOptions(8, 3), rng);
  m.loss = std::make_unique<nn::CrossEntropyLoss>();
  return m;
}

struct Resumable {
  nn::Model model;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<Trainer> trainer;
};

Resumable resumable(const data::Dataset& train_set, const data::Dataset& test_set, WeightPolicy policy,
                    StageBoundaries boundaries = {0, 3}) {
  Resumable r;
  Generator init(5);
  r.model = dropout_mlp(init);
  r.optimizer = make_sgd(*r.model.net);
  TrainerOptions o;
  o.batch_size = 16;
  o.eval_batch_size = 40;
  o.num_workers = 0;
  o.seed = 9;
  PipelineOptions& p = o.pipeline.emplace(stages(2, policy, std::move(boundaries)));
  p.make_optimizer = make_sgd;
  r.trainer = std::make_unique<Trainer>(r.model, *r.optimizer, train_set, test_set, o);
  return r;
}

std::vector<std::vector<float>> weights_of(nn::Model& m) {
  std::vector<std::vector<float>> w;
  for (const auto& [name, p] : m.net->named_parameters()) w.push_back(p->value().to_vector<float>());
  return w;
}

// Epoch 1, then the run's state, the weights and every stage's optimizer state moved into a new trainer that
// runs epoch 2: the same weights, bit for bit, as one trainer running both epochs (what --resume relies on).
TEST(Pipeline, ResumedAtAnEpochsEndTrainsBitIdentically) {
  const data::Dataset all = data::make_random_dataset(200, 6, 3, 11);
  const data::Dataset train_set = data::subset(all, 0, 160), test_set = data::subset(all, 160, 40);
  const Stream stream = cpu_context().compute_stream();
  for (WeightPolicy policy : {WeightPolicy::kNone, WeightPolicy::kSpecTrain, WeightPolicy::kSync}) {
    SCOPED_TRACE(weight_policy_name(policy));
    Resumable whole = resumable(train_set, test_set, policy);
    (void)whole.trainer->run_epoch(1, 2);
    const EpochStats want = whole.trainer->run_epoch(2, 2);

    Resumable first = resumable(train_set, test_set, policy);
    (void)first.trainer->run_epoch(1, 2);
    TrainerState state = first.trainer->state();
    state.epoch = 2;  // as a checkpoint taken at epoch 1's end continues
    state.batch = 0;
    state.samples = 0;
    ASSERT_EQ(state.pipeline_boundaries.size(), 2u);
    ASSERT_EQ(state.stage_generators.size(), 1u);
    const optim::ParameterPaths paths = optim::parameter_paths(*first.model.net);
    std::vector<nn::NamedBuffer> saved;
    for (optim::Optimizer* o : first.trainer->checkpointed_optimizers())
      for (nn::NamedBuffer& b : o->named_state(paths)) saved.push_back(nn::NamedBuffer{b.name, ops::to_host(stream, b.value)});
    const optim::OptimizerProgress progress = first.trainer->checkpointed_optimizers().front()->progress();

    Resumable second = resumable(train_set, test_set, policy, {});  // balanced: restore() gives the saved cut
    const auto from = first.model.net->named_parameters();
    const auto to = second.model.net->named_parameters();
    for (size_t i = 0; i < from.size(); ++i) ops::copy(stream, from[i].second->value(), to[i].second->value());
    const auto find_in = [&](const std::vector<nn::NamedBuffer>& list) {
      return [&list](const std::string& name) {
        for (const nn::NamedBuffer& b : list)
          if (b.name == name) return b.value;
        return Tensor();
      };
    };
    EXPECT_EQ(state.gradients.empty(), policy != WeightPolicy::kSpecTrain);
    std::vector<nn::NamedBuffer> gradients;
    for (const nn::NamedBuffer& g : state.gradients) gradients.push_back({g.name, ops::to_host(stream, g.value)});
    second.trainer->restore(state, [](const std::string&) { return Tensor(); }, find_in(gradients));
    const optim::ParameterPaths second_paths = optim::parameter_paths(*second.model.net);
    size_t loaded = 0;
    for (optim::Optimizer* o : second.trainer->checkpointed_optimizers()) {
      loaded += o->load_state(stream, second_paths, [&](const std::string& name) {
                   for (const nn::NamedBuffer& b : saved)
                     if (b.name == name) return b.value;
                   return Tensor();
                 }).size();
      o->restore_progress(progress);
    }
    EXPECT_EQ(loaded, saved.size());
    const EpochStats got = second.trainer->run_epoch(2, 2);
    EXPECT_EQ(got.train_loss, want.train_loss);
    EXPECT_EQ(weights_of(second.model), weights_of(whole.model));
  }
}

TEST(Pipeline, ResumeRefusesAnotherCut) {
  const data::Dataset all = data::make_random_dataset(80, 6, 3, 11);
  Resumable r = resumable(all, all, WeightPolicy::kNone);
  TrainerState s;
  s.loss_sum = Tensor::from_values(std::vector<float>{0.0f}, {});
  EXPECT_THROW(r.trainer->restore(s, [](const std::string&) { return Tensor(); }), InvalidArgument);  // no pipeline
  s.pipeline_boundaries = {0, 2, 4};
  s.stage_generators = {{1, 0}, {2, 0}};
  EXPECT_THROW(r.trainer->restore(s, [](const std::string&) { return Tensor(); }), InvalidArgument);  // 3 stages
}

}  // namespace
}  // namespace sprint::train

namespace sprint::train {
namespace {

// The threaded 1F1B executor against a one-thread emulation of the algorithm it must compute: two stages, stage 0
// one forward ahead, no weight compensation (stage 0's backward of batch i runs with the weights of update i,
// its forward ran with those of update i - 1). Serialising the stages' passes in any order that keeps each
// stage's own order and the hand-offs gives the same numbers, so equal weights bit for bit say that the executor
// is exactly delayed-gradient SGD: a model that diverges under it diverges by the algorithm, not by a bug.
TEST(Pipeline, TwoStagesComputeExactlyTheDelayedGradientAlgorithm) {
  const data::Dataset all = data::make_random_dataset(160, 6, 3, 11);
  const int64_t batch = 16, n = 10;
  const Stream stream = cpu_context().compute_stream();
  auto batch_of = [&](int64_t i) {
    data::Batch b;
    b.inputs = all.inputs.rows(i * batch, batch);
    b.labels = all.labels.rows(i * batch, batch);
    b.index = i;
    b.size = batch;
    return b;
  };
  auto build = [] {
    Generator init(5);
    nn::ModelOptions mo;
    mo.hidden = {12, 8};
    return nn::build_model("mlp2", {6}, 3, init, mo);
  };

  // The executor.
  nn::Model piped = build();
  Generator rng(1);
  PipelineOptions options = stages(2, WeightPolicy::kNone, {0, 2});
  options.make_optimizer = make_sgd;
  Pipeline pipeline(piped, options, stream, std::nullopt, rng, batch_of(0));
  int64_t fed = 0;
  const Tensor loss_sum = ops::zeros(stream, {}, DType::kF32);
  const Pipeline::EpochResult r = pipeline.train_epoch(
      [&]() -> std::optional<data::Batch> {
        if (fed == n) return std::nullopt;
        return batch_of(fed++);
      },
      0, nullptr, loss_sum);
  ASSERT_EQ(r.mini_batches, n);

  // The emulation: F0(0) F1(0) B1(0) U1, then for i >= 1: F0(i) B0(i-1) U0 F1(i) B1(i) U1, then B0(n-1) U0.
  nn::Model plain = build();
  const std::vector<std::shared_ptr<nn::Sequential>> s = split_stages(*plain.net, {0, 2});
  s[0]->set_needs_input_grad(false);
  s[1]->set_needs_input_grad(true);
  const std::unique_ptr<optim::Optimizer> opt0 = make_sgd(*s[0]), opt1 = make_sgd(*s[1]);
  Generator unused(1);
  nn::RunContext ctx0{stream, &unused, nn::BufferKey::micro_batch(0), std::nullopt};
  nn::RunContext ctx1 = ctx0;
  std::vector<Tensor> activation(static_cast<size_t>(n)), gradient(static_cast<size_t>(n));
  auto f0 = [&](int64_t i) {
    ctx0.buffers = nn::BufferKey::micro_batch(i % 2);
    activation[static_cast<size_t>(i)] = s[0]->forward(ctx0, batch_of(i).inputs);
  };
  auto f1_b1_u1 = [&](int64_t i) {
    ctx1.buffers = nn::BufferKey::micro_batch(i % 2);
    const Tensor y = s[1]->forward(ctx1, activation[static_cast<size_t>(i)]);
    (void)plain.loss->forward(ctx1, y, batch_of(i).labels);
    const Tensor dy = plain.loss->backward(ctx1, 1.0);
    opt1->zero_grad();
    gradient[static_cast<size_t>(i)] = s[1]->backward(ctx1, dy);
    opt1->step(stream, 1.0);
  };
  auto b0_u0 = [&](int64_t i) {
    ctx0.buffers = nn::BufferKey::micro_batch(i % 2);
    opt0->zero_grad();
    (void)s[0]->backward(ctx0, gradient[static_cast<size_t>(i)]);
    opt0->step(stream, 1.0);
  };
  f0(0);
  f1_b1_u1(0);
  for (int64_t i = 1; i < n; ++i) {
    f0(i);
    b0_u0(i - 1);
    f1_b1_u1(i);
  }
  b0_u0(n - 1);

  const auto want = plain.net->named_parameters(), got = piped.net->named_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(got[i].second->value().to_vector<float>(), want[i].second->value().to_vector<float>()) << want[i].first;
  // And it is not plain SGD on the same batches: stage 0's delayed gradients move its weights elsewhere.
  nn::Model sequential = build();
  const std::unique_ptr<optim::Optimizer> opt = make_sgd(*sequential.net);
  nn::RunContext ctx{stream, &unused, nn::BufferKey::micro_batch(0), std::nullopt};
  for (int64_t i = 0; i < n; ++i) {
    (void)sequential.loss->forward(ctx, sequential.net->forward(ctx, batch_of(i).inputs), batch_of(i).labels);
    opt->zero_grad();
    (void)sequential.net->backward(ctx, sequential.loss->backward(ctx, 1.0));
    opt->step(stream, 1.0);
  }
  EXPECT_NE(sequential.net->named_parameters()[0].second->value().to_vector<float>(),
            want[0].second->value().to_vector<float>());
}

}  // namespace
}  // namespace sprint::train
