// profiler_test.cpp: the profiler's aggregation (hand-made spans -> rows: calls, totals, self time, shares
// that sum to 100% with the [other] row, rates, sorting, the table and JSON), rejected non-nesting spans, the
// Chrome trace (schema, nesting, names, categories), and the Profiler driving a real Sequential on the CPU:
// warm-up steps get no observer and record nothing, profiled steps record every layer's forward and backward
// by path.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sprint/nn/activation.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "sprint/profile/chrome_trace.h"
#include "sprint/profile/profile_summary.h"
#include "sprint/profile/profiler.h"
#include "sprint/runtime/device_registry.h"
#include "support/chrome_trace_check.h"
#include "support/test_util.h"

namespace sprint::profile {
namespace {

// Two steps of 1000 ns: data wait 100, model forward 500 with fc1 300 (cost known) and fc2 100, optimizer
// 200.
ProfileData two_steps() {
  ProfileData d;
  d.names = {"step 0", "step 1", "data wait", "model", "fc1", "fc2", "optimizer"};
  for (int step = 0; step < 2; ++step) {
    const int64_t t = 10'000 * step;
    d.spans.push_back(
        {.name = step, .category = Category::kStep, .depth = 0, .start_ns = t, .end_ns = t + 1000});
    d.spans.push_back({.name = 2, .category = Category::kData, .depth = 1, .start_ns = t, .end_ns = t + 100});
    d.spans.push_back(
        {.name = 3, .category = Category::kForward, .depth = 1, .start_ns = t + 100, .end_ns = t + 600});
    d.spans.push_back({.name = 4,
                       .category = Category::kForward,
                       .depth = 2,
                       .start_ns = t + 150,
                       .end_ns = t + 450,
                       .flops = 3000,
                       .bytes = 600});
    d.spans.push_back(
        {.name = 5, .category = Category::kForward, .depth = 2, .start_ns = t + 450, .end_ns = t + 550});
    d.spans.push_back(
        {.name = 6, .category = Category::kOptimizer, .depth = 1, .start_ns = t + 700, .end_ns = t + 900});
  }
  d.memory = {{"cpu",
               {.allocated_bytes = 1024,
                .peak_allocated_bytes = 4096,
                .reserved_bytes = 1024,
                .peak_reserved_bytes = 4096}}};
  return d;
}

const ProfileRow& row(const ProfileSummary& s, const std::string& name) {
  for (const ProfileRow& r : s.rows)
    if (r.name == name) return r;
  throw std::runtime_error("no row " + name);
}

TEST(ProfileSummary, RowsAggregateCallsTotalsSelfTimeAndRates) {
  const ProfileSummary s = summarize(two_steps());
  EXPECT_EQ(s.steps, 2);
  EXPECT_EQ(s.step_ns, 2000);
  EXPECT_EQ(s.data_ns, 200);
  EXPECT_EQ(s.compute_ns, 1800);
  EXPECT_EQ(s.optimizer_ns, 400);
  const ProfileRow& model = row(s, "model");
  EXPECT_EQ(model.calls, 2);
  EXPECT_EQ(model.total_ns, 1000);
  EXPECT_EQ(model.self_ns, 200);  // 500 - 300 - 100, twice
  EXPECT_DOUBLE_EQ(model.share, 0.5);
  EXPECT_DOUBLE_EQ(model.mean_ns(), 500.0);
  const ProfileRow& fc1 = row(s, "fc1");
  EXPECT_EQ(fc1.total_ns, 600);
  EXPECT_EQ(fc1.flops, 6000);
  EXPECT_DOUBLE_EQ(fc1.flops_per_second, 6000 / 600e-9);
  EXPECT_DOUBLE_EQ(fc1.bytes_per_second, 1200 / 600e-9);
  EXPECT_EQ(row(s, "fc2").flops_per_second, 0.0);  // unknown cost: no rate
  // The step's time outside every region: 1000 - 100 - 500 - 200 per step.
  const ProfileRow& other = row(s, kUnaccountedRow);
  EXPECT_EQ(other.total_ns, 400);
  EXPECT_EQ(other.self_ns, 400);
}

TEST(ProfileSummary, SelfSharesSumToOneAndRowsAreSortedByTotalTime) {
  const ProfileSummary s = summarize(two_steps());
  double self_share = 0.0;
  for (const ProfileRow& r : s.rows) self_share += r.self_share;
  EXPECT_NEAR(self_share, 1.0, 1e-12);
  ASSERT_EQ(s.rows.size(), 6u);
  for (size_t i = 1; i < s.rows.size(); ++i) EXPECT_GE(s.rows[i - 1].total_ns, s.rows[i].total_ns);
  EXPECT_EQ(s.rows[0].name, "model");
  EXPECT_EQ(s.rows[1].name, "fc1");
}

TEST(ProfileSummary, TableShowsTheTopRowsAndMemory) {
  const std::string table = format_profile_table(summarize(two_steps()), 3);
  EXPECT_NE(table.find("2 steps after 0 warm-up on cpu"), std::string::npos) << table;
  EXPECT_NE(table.find("mean step 0.001 ms"), std::string::npos) << table;
  EXPECT_NE(table.find("fc1"), std::string::npos);
  EXPECT_EQ(table.find("fc2 "), std::string::npos) << "row 6 of 6 is past the top 3";
  EXPECT_NE(table.find("(3 of 6 rows"), std::string::npos);
  EXPECT_NE(table.find("memory cpu: 1.0 KiB allocated (peak 4.0 KiB)"), std::string::npos) << table;
  EXPECT_NE(table.find("10.00"), std::string::npos) << "fc1 at 10 GFLOP/s:\n" << table;
}

TEST(ProfileSummary, JsonHasEveryRowWithNullForUnknownCosts) {
  const nlohmann::json j = nlohmann::json::parse(profile_json(summarize(two_steps())));
  EXPECT_EQ(j["steps"], 2);
  EXPECT_EQ(j["timing"], "host clock");
  EXPECT_DOUBLE_EQ(j["mean_step_ms"].get<double>(), 0.001);
  ASSERT_EQ(j["rows"].size(), 6u);
  EXPECT_EQ(j["rows"][0]["name"], "model");
  EXPECT_EQ(j["rows"][0]["phase"], "forward");
  EXPECT_TRUE(j["rows"][0]["flops"].is_null());
  EXPECT_EQ(j["rows"][1]["flops"], 6000);
  EXPECT_EQ(j["memory"][0]["peak_reserved_bytes"], 4096);
}

TEST(ProfileSummary, SpansThatDoNotNestAreRejected) {
  ProfileData d = two_steps();
  d.spans[3].end_ns = d.spans[2].end_ns + 1;  // fc1 ends after its parent
  EXPECT_THROW(summarize(d), InvalidArgument);
}

TEST(ChromeTrace, HasTheSchemaAndNestsPerTrack) {
  const ProfileData d = two_steps();
  const std::string text = chrome_trace_json(d);
  size_t n = 0;
  EXPECT_TRUE(testing::is_valid_chrome_trace(text, &n));
  EXPECT_EQ(n, d.spans.size());
  const nlohmann::json j = nlohmann::json::parse(text);
  bool found = false;
  for (const nlohmann::json& e : j["traceEvents"]) {
    if (e["ph"] != "X" || e["name"] != "fc1") continue;
    found = true;
    EXPECT_EQ(e["cat"], "forward");
    EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 0.15);  // microseconds
    EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 0.3);
    EXPECT_EQ(e["args"]["flops"], 3000);
    break;  // the first step's; events are sorted by start
  }
  EXPECT_TRUE(found);
}

TEST(ChromeTrace, TheCheckCatchesOverlappingEvents) {
  const std::string bad = R"({"traceEvents":[
    {"name":"process_name","ph":"M","pid":1,"args":{"name":"p"}},
    {"name":"thread_name","ph":"M","pid":1,"tid":1,"args":{"name":"t"}},
    {"name":"a","cat":"forward","ph":"X","ts":0,"dur":10,"pid":1,"tid":1},
    {"name":"b","cat":"forward","ph":"X","ts":5,"dur":10,"pid":1,"tid":1}]})";
  EXPECT_FALSE(testing::is_valid_chrome_trace(bad));
}

TEST(ChromeTrace, WriteFailsWithTheReason) {
  EXPECT_THROW(write_chrome_trace("/nonexistent-dir/trace.json", two_steps()), IoError);
}

// A Sequential fc1 -> relu -> fc2 driven through the Profiler as the trainer does.
class ProfilerOnSequential : public ::testing::Test {
 protected:
  ProfilerOnSequential() : stream_(cpu_context().compute_stream()) {
    Generator rng(7);
    net_.add(std::make_shared<nn::Linear>(nn::LinearOptions(6, 5), rng), "fc1");
    net_.add(std::make_shared<nn::ReLU>(), "relu");
    net_.add(std::make_shared<nn::Linear>(nn::LinearOptions(5, 3), rng), "fc2");
    x_ = testing::random_tensor({4, 6}, DType::kF32, rng);
    dy_ = testing::random_tensor({4, 3}, DType::kF32, rng);
  }

  void step(Profiler& p) {
    nn::RunContext ctx{stream_};
    ctx.observer = p.begin_step();
    {
      const ProfileRegion region(&p, "model", Category::kForward);
      (void)net_.forward(ctx, x_);
    }
    {
      const ProfileRegion region(&p, "model", Category::kBackward);
      (void)net_.backward(ctx, dy_);
    }
    p.end_step();
  }

  Stream stream_;
  nn::Sequential net_;
  Tensor x_, dy_;
};

TEST_F(ProfilerOnSequential, WarmupStepsGetNoObserverAndRecordNothing) {
  Profiler p(stream_, {.warmup_steps = 2, .steps = 1});
  EXPECT_EQ(p.begin_step(), nullptr);
  EXPECT_FALSE(p.recording());
  p.end_step();
  step(p);
  EXPECT_TRUE(p.data().spans.empty());
  step(p);  // the profiled one
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(p.data().n_steps(), 1);
  step(p);  // after: nothing more
  EXPECT_EQ(p.data().n_steps(), 1);
}

TEST_F(ProfilerOnSequential, RecordsEveryLayerByPathAndPhaseWithCosts) {
  Profiler p(stream_, {.warmup_steps = 0, .steps = 2});
  step(p);
  step(p);
  const ProfileSummary s = summarize(p.data());
  EXPECT_EQ(s.steps, 2);
  for (const char* name : {"fc1", "relu", "fc2"}) {
    for (const Category c : {Category::kForward, Category::kBackward}) {
      bool found = false;
      for (const ProfileRow& r : s.rows) {
        if (r.name != name || r.category != c) continue;
        found = true;
        EXPECT_EQ(r.calls, 2) << name;
        EXPECT_GT(r.flops, 0) << name;
      }
      EXPECT_TRUE(found) << name << " " << category_name(c);
    }
  }
  // fc1 forward: 2·4·6·5 + 4·5 per call.
  for (const ProfileRow& r : s.rows)
    if (r.name == "fc1" && r.category == Category::kForward) {
      EXPECT_EQ(r.flops, 2 * (2 * 4 * 6 * 5 + 4 * 5));
    }
  double self_share = 0.0;
  for (const ProfileRow& r : s.rows) self_share += r.self_share;
  EXPECT_NEAR(self_share, 1.0, 1e-9);
  EXPECT_TRUE(testing::is_valid_chrome_trace(chrome_trace_json(p.data())));
  ASSERT_EQ(p.data().memory.size(), 1u);
  EXPECT_EQ(p.data().memory[0].device, "cpu");
  EXPECT_GT(p.data().memory[0].stats.peak_allocated_bytes, 0);
}

TEST_F(ProfilerOnSequential, DiscardedStepsDoNotCount) {
  Profiler p(stream_, {.warmup_steps = 0, .steps = 1});
  ASSERT_NE(p.begin_step(), nullptr);
  p.discard_step();
  EXPECT_TRUE(p.data().spans.empty());
  EXPECT_FALSE(p.finished());
  step(p);
  EXPECT_TRUE(p.finished());
}

TEST(Profiler, RejectsBadOptions) {
  const Stream stream = cpu_context().compute_stream();
  EXPECT_THROW(Profiler(stream, {.warmup_steps = 0, .steps = 0}), InvalidArgument);
  EXPECT_THROW(Profiler(stream, {.warmup_steps = -1, .steps = 1}), InvalidArgument);
}

}  // namespace
}  // namespace sprint::profile
