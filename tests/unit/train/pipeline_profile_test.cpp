// pipeline_profile_test.cpp: a profiled pipeline. Each stage's profile holds the profiled steps of that stage
// alone (its own layers, its hand-off waits, its update), profiling changes no weight, and the per-stage
// tables, the report's object and the trace with the stages' layer spans are built from those profiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/data/dataset.h"
#include "sprint/nn/models.h"
#include "sprint/optim/sgd.h"
#include "sprint/train/pipeline_profile.h"
#include "sprint/train/pipeline_trace.h"
#include "sprint/train/trainer.h"
#include "pipeline_test_setup.h"
#include "support/chrome_trace_check.h"

namespace sprint::train {
namespace {

using pipeline_setup::make_sgd;

struct ProfiledRun {
  std::vector<std::vector<float>> weights;
  std::vector<StageReport> stages;
  std::vector<profile::ProfileData> profiles;
  std::vector<PipelineSpan> spans;
};

// mlp2 (Flatten, fc1 + ReLU, fc2 + ReLU, fc3) on 160 random samples, batch 16: 10 mini-batches an epoch, cut
// into stages [Flatten, fc1] and [fc2, fc3].
ProfiledRun train(WeightPolicy policy, std::optional<profile::ProfilerOptions> profile, int64_t micro_batches = 1) {
  auto [train_set, test_set, model] = pipeline_setup::mlp2();
  auto sgd = make_sgd(*model.net);
  TrainerOptions o = pipeline_setup::trainer_options(16, 40, 9);
  PipelineOptions& p = o.pipeline.emplace();
  p.stages = 2;
  p.policy = policy;
  p.micro_batches = micro_batches;
  p.boundaries = {0, 2};
  p.make_optimizer = make_sgd;
  p.profile = profile;
  Trainer trainer(model, *sgd, train_set, test_set, o);
  for (int e = 1; e <= 2; ++e) trainer.run_epoch(e, 2);
  ProfiledRun r;
  for (const auto& [name, param] : model.net->named_parameters()) r.weights.push_back(param->value().to_vector<float>());
  r.stages = trainer.pipeline_stages();
  for (const profile::ProfileData* d : trainer.pipeline_profiles()) r.profiles.push_back(*d);
  r.spans = trainer.pipeline_spans();
  return r;
}

bool has_name(const profile::ProfileData& d, const std::string& name) {
  return std::find(d.names.begin(), d.names.end(), name) != d.names.end();
}

// Spans named `name` of `category`.
int64_t count(const profile::ProfileData& d, const std::string& name, profile::Category category) {
  int64_t n = 0;
  for (const profile::Span& s : d.spans)
    if (d.names[static_cast<size_t>(s.name)] == name && s.category == category) ++n;
  return n;
}

const profile::ProfilerOptions kProfile{.warmup_steps = 2, .steps = 3};

TEST(PipelineProfile, EachStageTimesItsOwnLayersWaitsAndUpdates) {
  const ProfiledRun r = train(WeightPolicy::kSpecTrain, kProfile);
  ASSERT_EQ(r.profiles.size(), 2u);
  for (const profile::ProfileData& d : r.profiles) {
    EXPECT_EQ(d.n_steps(), 3);
    EXPECT_EQ(d.warmup_steps, 2);
    // A step is one turn of 1F1B: a forward, a backward and the update (the profiled turns lie before the
    // epoch's drain).
    EXPECT_EQ(count(d, "model", profile::Category::kForward), 3);
    EXPECT_EQ(count(d, "model", profile::Category::kBackward), 3);
    EXPECT_EQ(count(d, "optimizer", profile::Category::kOptimizer), 3);
  }
  const profile::ProfileData &first = r.profiles[0], &last = r.profiles[1];
  EXPECT_TRUE(has_name(first, "fc1"));
  EXPECT_FALSE(has_name(first, "fc2"));
  EXPECT_FALSE(has_name(first, "fc3"));
  EXPECT_FALSE(has_name(first, "loss"));
  EXPECT_EQ(count(first, "input wait", profile::Category::kData), 3);
  EXPECT_EQ(count(first, "gradient wait", profile::Category::kData), 3);
  EXPECT_TRUE(has_name(last, "fc2"));
  EXPECT_TRUE(has_name(last, "fc3"));
  EXPECT_FALSE(has_name(last, "fc1"));
  EXPECT_EQ(count(last, "activation wait", profile::Category::kData), 3);
  EXPECT_EQ(count(last, "loss", profile::Category::kLoss), 6);  // the loss's forward and its gradient
  EXPECT_FALSE(has_name(last, "gradient wait"));
  // The stages share the pipeline's clock: stage 1's first profiled step (its third turn) begins after its
  // second update, so after stage 0's forward of mini-batch 1 began (the first epoch's spans come first; that
  // forward's span ends after its hand-off, which stage 1 may take at once).
  int64_t forward_start = -1;
  for (const PipelineSpan& s : r.spans)
    if (s.stage == 0 && s.kind == PipelineSpanKind::kForward && s.mini_batch == 1) {
      forward_start = s.start_ns;
      break;
    }
  ASSERT_GE(forward_start, 0);
  EXPECT_GT(last.spans.front().start_ns, forward_start);
}

TEST(PipelineProfile, ProfilingChangesNoWeight) {
  for (const WeightPolicy policy : {WeightPolicy::kNone, WeightPolicy::kSpecTrain}) {
    const ProfiledRun plain = train(policy, std::nullopt), profiled = train(policy, kProfile);
    EXPECT_TRUE(plain.profiles.empty());
    EXPECT_EQ(profiled.weights, plain.weights) << weight_policy_name(policy);
  }
}

TEST(PipelineProfile, SyncStepsAreMiniBatches) {
  const ProfiledRun r = train(WeightPolicy::kSync, kProfile, 4);
  ASSERT_EQ(r.profiles.size(), 2u);
  for (const profile::ProfileData& d : r.profiles) {
    EXPECT_EQ(d.n_steps(), 3);
    EXPECT_EQ(count(d, "model", profile::Category::kForward), 3 * 4);  // every micro-batch's forward
    EXPECT_EQ(count(d, "optimizer", profile::Category::kOptimizer), 3);
  }
}

TEST(PipelineProfile, TablesReportAndTrace) {
  const ProfiledRun r = train(WeightPolicy::kNone, kProfile);
  std::vector<const profile::ProfileData*> profiles;
  for (const profile::ProfileData& d : r.profiles) profiles.push_back(&d);

  const std::string tables = pipeline_profile_tables(r.stages, profiles, 10);
  const size_t zero = tables.find("stage 0 (" + r.stages[0].layer_names + "):\nprofile: 3 steps after 2 warm-up");
  const size_t one = tables.find("stage 1 (" + r.stages[1].layer_names + "):\nprofile: 3 steps after 2 warm-up");
  ASSERT_NE(zero, std::string::npos) << tables;
  ASSERT_NE(one, std::string::npos) << tables;
  EXPECT_LT(zero, one);

  const nlohmann::json j = nlohmann::json::parse(pipeline_profile_json(r.stages, profiles));
  ASSERT_EQ(j["pipeline_stages"].size(), 2u) << j.dump(2);
  for (size_t k = 0; k < 2; ++k) {
    const nlohmann::json& s = j["pipeline_stages"][k];
    EXPECT_EQ(s["stage"], static_cast<int>(k));
    EXPECT_EQ(s["layer_names"], r.stages[k].layer_names);
    EXPECT_EQ(s["steps"], 3);
    EXPECT_FALSE(s["rows"].empty());
  }

  const std::string trace = pipeline_trace_json(r.spans, 2, profiles);
  size_t n_events = 0;
  EXPECT_TRUE(testing::is_valid_chrome_trace(trace, &n_events));
  const nlohmann::json t = nlohmann::json::parse(trace);
  std::map<int, std::string> processes;
  std::set<std::pair<int, std::string>> layer_spans;
  for (const nlohmann::json& e : t["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "process_name") processes[e["pid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X") layer_spans.insert({e["pid"].get<int>(), e["name"].get<std::string>()});
  }
  EXPECT_EQ(processes[1], "sprint pipeline");
  EXPECT_EQ(processes[2], "stage 0 host");
  EXPECT_EQ(processes[4], "stage 1 host");
  EXPECT_TRUE(layer_spans.count({2, "fc1"}));
  EXPECT_TRUE(layer_spans.count({4, "fc3"}));
  EXPECT_FALSE(layer_spans.count({2, "fc3"}));

  const std::vector<const profile::ProfileData*> one_profile = {profiles[0]};
  EXPECT_THROW(pipeline_profile_json(r.stages, one_profile), InvalidArgument);
  EXPECT_THROW(pipeline_profile_tables(r.stages, one_profile, 10), InvalidArgument);
  EXPECT_THROW(pipeline_trace_json(r.spans, 2, one_profile), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
