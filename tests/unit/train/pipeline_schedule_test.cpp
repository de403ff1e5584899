// pipeline_schedule_test.cpp: the 1F1B and fill-drain orders, SpecTrain's version differences against the
// worked example of the SpecTrain authors' README (K = 3: forward s = 2, 1, 1; backward s = 0, 0, 1) and
// against a discrete-event simulation of the schedule, stage boundaries, and the weight prediction by hand.
#include <gtest/gtest.h>

#include "sprint/core/error.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/linear.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/pipeline_schedule.h"
#include "sprint/train/pipeline_stages.h"
#include "sprint/train/weight_versions.h"

namespace sprint::train {
namespace {

constexpr PipelinePass F = PipelinePass::kForward;
constexpr PipelinePass B = PipelinePass::kBackward;

TEST(PipelineSchedule, OneFOneBWarmsUpAlternatesAndDrains) {
  // K = 3, 4 mini-batches: stage 0 runs two forwards ahead, stage 2 (the last) none.
  EXPECT_EQ(one_f_one_b_order(0, 3, 4),
            (std::vector<PipelineOp>{{F, 0}, {F, 1}, {F, 2}, {B, 0}, {F, 3}, {B, 1}, {B, 2}, {B, 3}}));
  EXPECT_EQ(one_f_one_b_order(1, 3, 4),
            (std::vector<PipelineOp>{{F, 0}, {F, 1}, {B, 0}, {F, 2}, {B, 1}, {F, 3}, {B, 2}, {B, 3}}));
  EXPECT_EQ(one_f_one_b_order(2, 3, 4),
            (std::vector<PipelineOp>{{F, 0}, {B, 0}, {F, 1}, {B, 1}, {F, 2}, {B, 2}, {F, 3}, {B, 3}}));
  // Fewer mini-batches than warm-up forwards.
  EXPECT_EQ(one_f_one_b_order(0, 4, 1), (std::vector<PipelineOp>{{F, 0}, {B, 0}}));
  EXPECT_TRUE(one_f_one_b_order(0, 2, 0).empty());
  EXPECT_THROW(one_f_one_b_order(3, 3, 4), InvalidArgument);
  EXPECT_EQ(fill_drain_order(1, 2, 3),
            (std::vector<PipelineOp>{{F, 0}, {F, 1}, {F, 2}, {B, 2}, {B, 1}, {B, 0}}));
  EXPECT_THROW(fill_drain_order(0, 2, 0), InvalidArgument);
}

TEST(PipelineSchedule, VersionDifferencesOfTheWorkedExample) {
  const int64_t forward[] = {2, 1, 1}, backward[] = {0, 0, 1};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(spectrain_version_difference(k, 3).forward, forward[k]) << "stage " << k;
    EXPECT_EQ(spectrain_version_difference(k, 3).backward, backward[k]) << "stage " << k;
  }
  EXPECT_EQ(spectrain_version_difference(0, 1).forward, 0);  // one stage: nothing to predict
  EXPECT_EQ(spectrain_version_difference(0, 1).backward, 0);
}

// With equal forward and backward durations the simulated schedule applies exactly the version differences'
// updates to every mini-batch of the steady state, for K = 2, 3, 4, 5, 8.
TEST(PipelineSchedule, SimulationReproducesTheVersionDifferences) {
  for (int K : {2, 3, 4, 5, 8}) {
    const int64_t n = 4 * K + 8, mid = n / 2;
    const std::vector<SimulatedStage> sim = simulate_one_f_one_b(K, n, 1.0, 1.0);
    ASSERT_EQ(sim.size(), static_cast<size_t>(K));
    for (int k = 0; k < K; ++k) {
      const VersionDifference s = spectrain_version_difference(k, K);
      const SimulatedStage& st = sim[static_cast<size_t>(k)];
      EXPECT_EQ(st.forward_to_backward[mid], K - k - 1) << "K " << K << " stage " << k;
      EXPECT_EQ(st.backward_to_completion[mid], s.backward) << "K " << K << " stage " << k;
      EXPECT_EQ(st.forward_to_backward[mid] + st.backward_to_completion[mid], s.forward)
          << "K " << K << " stage " << k;
      EXPECT_EQ(st.forward_to_backward[0], 0) << "the first mini-batch sees no other update";
    }
  }
  // The forward-to-backward gap depends on the order alone: a backward twice as long leaves it K - k - 1.
  const std::vector<SimulatedStage> slow = simulate_one_f_one_b(4, 24, 1.0, 2.0);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(slow[static_cast<size_t>(k)].forward_to_backward[12], 4 - k - 1);
}

TEST(PipelineStages, BoundariesByIndexAndBalanced) {
  EXPECT_EQ(boundaries_by_index(10, 3), (StageBoundaries{0, 4, 7}));
  EXPECT_EQ(boundaries_by_index(5, 5), (StageBoundaries{0, 1, 2, 3, 4}));
  EXPECT_EQ(boundaries_by_index(5, 1), (StageBoundaries{0}));
  EXPECT_THROW(boundaries_by_index(2, 3), InvalidArgument);
  EXPECT_EQ(boundaries_balanced({1, 1, 1, 10, 1, 1}, 3), (StageBoundaries{0, 3, 4}));
  EXPECT_EQ(boundaries_balanced({4, 1, 1, 1, 1}, 2), (StageBoundaries{0, 1}));
  EXPECT_EQ(boundaries_balanced({1, 1, 1, 1}, 2), (StageBoundaries{0, 2}));
  EXPECT_THROW(boundaries_balanced({1, -1}, 2), InvalidArgument);
  EXPECT_THROW(check_boundaries({1, 2}, 4), InvalidArgument);     // must begin at 0
  EXPECT_THROW(check_boundaries({0, 2, 2}, 4), InvalidArgument);  // must increase
  EXPECT_THROW(check_boundaries({0, 4}, 4), InvalidArgument);     // past the last layer
  EXPECT_EQ(describe_boundaries({0, 3, 4}, 6), "0-2 | 3 | 4-5");
}

// Nested Sequentials are expanded, so that a stage can begin inside one (VGG's "features"); the views run the
// shared modules in order.
TEST(PipelineStages, LayersExpandNestedSequentialsAndViewsShareThem) {
  Generator rng(1);
  auto inner = std::make_shared<nn::Sequential>();
  inner->add(std::make_shared<nn::Linear>(nn::LinearOptions(4, 4), rng), "a");
  inner->add(std::make_shared<nn::ReLU>(), "b");
  nn::Sequential net;
  net.add(inner, "features");
  net.add(std::make_shared<nn::Linear>(nn::LinearOptions(4, 2), rng), "classifier");
  const PipelineLayers layers = pipeline_layers(net);
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].first, "features.a");
  EXPECT_EQ(layers[1].first, "features.b");
  EXPECT_EQ(layers[2].first, "classifier");
  EXPECT_EQ(layers[0].second.get(), &(*inner)[0]);
  const auto stages = split_stages(net, {0, 1});
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0]->size(), 1u);
  EXPECT_EQ(stages[1]->size(), 2u);
  EXPECT_EQ(&(*stages[1])[1], &net[1]);
  EXPECT_EQ(stages[0]->parameters().size() + stages[1]->parameters().size(), net.parameters().size());
  EXPECT_THROW(split_stages(net, {0, 3}), InvalidArgument);
}

// The profiler times every pipeline layer (nested ones by their dotted names), and a layer with 64 times the
// work of the others costs the most.
TEST(PipelineStages, MeasuredLayerSecondsFollowTheWork) {
  Generator rng(2);
  auto inner = std::make_shared<nn::Sequential>();
  inner->add(std::make_shared<nn::Linear>(nn::LinearOptions(64, 64), rng), "small");
  inner->add(std::make_shared<nn::ReLU>(), "relu");
  nn::Sequential net;
  net.add(inner, "features");
  net.add(std::make_shared<nn::Linear>(nn::LinearOptions(64, 4096), rng), "wide");
  net.add(std::make_shared<nn::Linear>(nn::LinearOptions(4096, 64), rng), "narrow");
  net.set_needs_input_grad(true);
  const Stream stream = cpu_context().compute_stream();
  Generator dropout(3);
  const nn::RunContext ctx{stream, &dropout, nn::BufferKey::micro_batch(0), std::nullopt};
  const Tensor x = Tensor::from_values(std::vector<float>(128 * 64, 0.5f), {128, 64});
  const std::vector<double> seconds = measure_layer_seconds(net, ctx, x, 3);
  ASSERT_EQ(seconds.size(), 4u);
  for (double t : seconds) EXPECT_GT(t, 0.0);
  EXPECT_GT(seconds[2], seconds[0]);
  EXPECT_GT(seconds[3], seconds[0]);
  EXPECT_THROW(measure_layer_seconds(net, ctx, x, 0), InvalidArgument);
}

// Ŵ = W - s·lr·(momentum·v + g), computed by hand: W = (1, 2), v = (0.5, -1), g = (0.1, 0.2), lr 0.1,
// momentum 0.9, s = 2: W - 0.2·(0.55, -0.7) = (0.89, 2.14).
TEST(PipelineWeights, PredictionByHand) {
  const Stream s = cpu_context().compute_stream();
  const Tensor w = Tensor::from_values(std::vector<float>{1.0f, 2.0f}, {2});
  const Tensor v = Tensor::from_values(std::vector<float>{0.5f, -1.0f}, {2});
  const Tensor g = Tensor::from_values(std::vector<float>{0.1f, 0.2f}, {2});
  Tensor out = Tensor::empty({2}, DType::kF32);
  predict_weight(s, w, v, g, 0.1, 0.9, 2, out);
  const std::vector<float> got = out.to_vector<float>();
  EXPECT_NEAR(got[0], 0.89f, 1e-6f);
  EXPECT_NEAR(got[1], 2.14f, 1e-6f);
  predict_weight(s, w, v, g, 0.1, 0.9, 0, out);  // s = 0: the weights themselves
  EXPECT_EQ(out.to_vector<float>(), w.to_vector<float>());
  predict_weight(s, w, v, g, 0.0, 0.9, 3, out);  // lr = 0: the weights themselves
  EXPECT_EQ(out.to_vector<float>(), w.to_vector<float>());
  predict_weight(s, w, Tensor(), g, 0.1, 0.9, 1, out);  // no velocity yet: along the gradient
  EXPECT_NEAR(out.to_vector<float>()[0], 0.99f, 1e-6f);
  EXPECT_THROW(predict_weight(s, w, v, g, 0.1, 0.9, -1, out), InvalidArgument);
}

TEST(PipelineWeights, PolicyNames) {
  for (WeightPolicy p :
       {WeightPolicy::kNone, WeightPolicy::kStash, WeightPolicy::kSpecTrain, WeightPolicy::kSync})
    EXPECT_EQ(parse_weight_policy(weight_policy_name(p)), p);
  EXPECT_THROW(parse_weight_policy("gpipe"), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
