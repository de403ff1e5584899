// pipeline_cli_test.cpp: `sprint train --pipeline K`: every weight policy trains, the table and the report's
// "pipeline" object describe the stages, a profiled pipeline prints a table per stage, and options that cannot
// work are one line and exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> mlp(std::vector<std::string> extra) {
  std::vector<std::string> args = {"train",     "--dataset",    "random",     "--model",    "mlp2",
                                   "--samples", "400",          "--features", "12",         "--epochs",
                                   "2",         "--batch-size", "16",         "--progress", "off"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(PipelineCli, EveryPolicyTrainsAndReportsItsStages) {
  TempDir tmp;
  for (const std::string policy : {"none", "stash", "spectrain", "sync"}) {
    const fs::path report = tmp.path() / (policy + ".json");
    CommandResult r = run_sprint(
        mlp({"--pipeline", "3", "--weight-policy", policy, "--micro-batches", policy == "sync" ? "4" : "1",
             "--pipeline-boundaries", "0,2,3", "--report", report.string()}));
    ASSERT_EQ(r.exit_code, 0) << policy << ": " << r.err;
    EXPECT_NE(r.out.find("pipeline: 3 stages (layers 0-1 | 2 | 3), weight policy " + policy),
              std::string::npos)
        << r.out;
    std::ifstream in(report);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["status"], "completed");
    const nlohmann::json& p = j["pipeline"];
    EXPECT_EQ(p["stages"], 3);
    EXPECT_EQ(p["weight_policy"], policy);
    ASSERT_EQ(p["per_stage"].size(), 3u);
    for (int k = 0; k < 3; ++k) {
      const nlohmann::json& s = p["per_stage"][static_cast<size_t>(k)];
      EXPECT_EQ(s["updates"], 2 * 20) << policy;  // 320 training samples, batch 16, 2 epochs
      EXPECT_EQ(s["max_staleness"], policy == "sync" ? 0 : 2 - k) << policy << " stage " << k;
    }
    EXPECT_EQ(p["per_stage"][0]["version_difference_forward"], policy == "spectrain" ? 2 : 0);
    EXPECT_LT(j["epochs"][1]["train_loss"].get<double>(), j["epochs"][0]["train_loss"].get<double>())
        << policy;
  }
  // Balanced by measured time when no boundaries are given; the trace has a track per stage.
  const fs::path trace = tmp.path() / "trace.json", report = tmp.path() / "balanced.json";
  CommandResult r =
      run_sprint(mlp({"--pipeline", "2", "--trace", trace.string(), "--report", report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pipeline: 2 stages"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the stages were busy"), std::string::npos) << r.out;
  std::ifstream trace_in(trace);
  const nlohmann::json t = nlohmann::json::parse(trace_in);
  int per_track[3] = {0, 0, 0};
  bool first_forward = false;
  for (const nlohmann::json& e : t["traceEvents"]) {
    if (e["ph"] != "X") continue;
    per_track[e["tid"].get<int>()] += 1;
    first_forward |= e["name"] == "forward 0" && e["tid"] == 1;
  }
  EXPECT_EQ(per_track[1], 3 * 40);  // 40 batches: a forward, a backward and an update each, on both stages
  EXPECT_EQ(per_track[2], 3 * 40);
  EXPECT_TRUE(first_forward);
  std::ifstream report_in(report);
  const nlohmann::json j = nlohmann::json::parse(report_in);
  EXPECT_GT(j["pipeline"]["wall_seconds"].get<double>(), 0.0);
  EXPECT_GT(j["pipeline"]["overlap"].get<double>(), 0.0);
}

// Mixed precision: the stages' weights have f32 masters and bf16 compute copies; SpecTrain predicts from the
// master with the f32 gradient and velocity and rounds the prediction into the copy the layers read.
TEST(PipelineCli, SpecTrainPredictsMixedPrecisionWeights) {
  TempDir tmp;
  for (const std::string policy : {"spectrain", "stash"}) {
    const fs::path report = tmp.path() / (policy + ".json");
    CommandResult r = run_sprint(mlp({"--pipeline", "2", "--weight-policy", policy, "--amp", "bf16", "--report",
                                      report.string()}));
    ASSERT_EQ(r.exit_code, 0) << policy << ": " << r.err;
    std::ifstream in(report);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["status"], "completed");
    EXPECT_LT(j["epochs"][1]["train_loss"].get<double>(), j["epochs"][0]["train_loss"].get<double>()) << policy;
  }
}

// Checkpoints of a pipelined run are saved at each epoch's end (every stage's optimizer, the cut, the stages'
// generators, SpecTrain's last gradients): a run killed after its first save and resumed ends with the bytes of
// the run that was never killed.
TEST(PipelineCli, KilledAndResumedRunsEndBitIdentical) {
  TempDir tmp;
  const auto args = [](const fs::path& dir, const std::string& policy, bool devices) {
    // A fixed cut: balanced by measured time, two runs on a busy machine could cut differently.
    std::vector<std::string> a = mlp({"--pipeline", "2", "--pipeline-boundaries", "0,2", "--weight-policy", policy,
                                      "--schedule", "onecycle",
                                      "--samples", "6000", "--epochs", "3", "--threads", "2", "--checkpoint-dir",
                                      dir.string()});
    // The stages on logical host devices of their own: the state of each is saved from, and loaded onto, its device.
    if (devices) a.insert(a.end(), {"--stage-devices", "cpu:1,cpu:2"});
    return a;
  };
  for (const auto& [policy, devices] : {std::pair{"spectrain", false}, {"stash", false}, {"spectrain", true}}) {
    const std::string name = std::string(policy) + (devices ? "-devices" : "");
    SCOPED_TRACE(name);
    const auto args_of = [&](const fs::path& dir) { return args(dir, policy, devices); };
    const fs::path reference = tmp.path() / ("reference-" + name), dir = tmp.path() / ("killed-" + name);
    CommandResult r = run_sprint(args_of(reference));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string want = read_text_file((reference / "latest.safetensors").string());
    ASSERT_FALSE(want.empty());
    if (devices) EXPECT_NE(r.out.find("on cpu:1 | cpu:2"), std::string::npos) << r.out;
    ASSERT_TRUE(run_sprint_and_kill(args_of(dir), [&] { return fs::exists(dir / "latest.safetensors"); }, 0))
        << "the run ended before the kill";
    CommandResult resumed = run_sprint({"train", "--resume", dir.string()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("resumed "), std::string::npos) << resumed.out;
    EXPECT_TRUE(read_text_file((dir / "latest.safetensors").string()) == want)
        << "final weights differ from the uninterrupted run";
  }
}

TEST(PipelineCli, ProfiledStagesPrintATableEachAndTraceTheirLayers) {
  TempDir tmp;
  const fs::path trace = tmp.path() / "t.json", report = tmp.path() / "r.json";
  CommandResult r = run_sprint(mlp({"--pipeline", "2", "--pipeline-boundaries", "0,2", "--profile", "--profile-steps",
                                    "3", "--profile-warmup", "1", "--trace", trace.string(), "--report",
                                    report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t zero = r.out.find("stage 0 (0 .. fc1):\nprofile: 3 steps after 1 warm-up on cpu");
  const size_t one = r.out.find("stage 1 (fc2 .. fc3):\nprofile: 3 steps after 1 warm-up on cpu");
  ASSERT_NE(zero, std::string::npos) << r.out;
  ASSERT_NE(one, std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ngradient wait "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nactivation wait "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("final test accuracy"), std::string::npos) << "the run continues normally:\n" << r.out;
  std::ifstream report_in(report);
  const nlohmann::json j = nlohmann::json::parse(report_in);
  ASSERT_EQ(j["profile"]["pipeline_stages"].size(), 2u) << j.dump(2);
  EXPECT_EQ(j["profile"]["pipeline_stages"][1]["layer_names"], "fc2 .. fc3");
  std::ifstream trace_in(trace);
  const nlohmann::json t = nlohmann::json::parse(trace_in);
  bool fc3_in_stage_1 = false;
  for (const nlohmann::json& e : t["traceEvents"])
    if (e["ph"] == "X" && e["name"] == "fc3" && e["pid"] == 4) fc3_in_stage_1 = true;
  EXPECT_TRUE(fc3_in_stage_1) << "stage 1's layers are process 4 of the trace";

  // sprint profile --pipeline: the same tables, every stage's profiled steps whole turns of its schedule.
  r = run_sprint({"profile", "--model", "mlp2", "--dataset", "random", "--pipeline", "3", "--weight-policy", "sync",
                  "--micro-batches", "2", "--steps", "4", "--warmup", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* heading : {"stage 0 (", "stage 1 (", "stage 2 ("}) EXPECT_NE(r.out.find(heading), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pipeline: 3 stages"), std::string::npos) << r.out;
  r = run_sprint({"profile", "--model", "mlp2", "--dataset", "random", "--weight-policy", "sync"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--pipeline"), std::string::npos) << r.err;
}

TEST(PipelineCli, WhatCannotWorkIsOneLineAndExitCode2) {
  TempDir tmp;
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--weight-policy", "stash"}, "need --pipeline K"},
      {{"--stage-devices", "cpu:1,cpu:2"}, "need --pipeline K"},
      {{"--pipeline", "2", "--stage-devices", "cpu:1"}, "--stage-devices gives 1 devices for --pipeline 2"},
      {{"--pipeline", "2", "--stage-devices", "cpu:1,tpu"}, "unknown device 'tpu'"},
      {{"--pipeline", "2", "--micro-batches", "2"}, "--micro-batches 2 applies to the sync weight policy"},
      {{"--pipeline", "9"}, "9 stages need at least 9 layers"},
      {{"--pipeline", "2", "--pipeline-boundaries", "0,9"}, "stage 1 begins at layer 9"},
      {{"--pipeline", "2", "--pipeline-boundaries", "0"}, "gives 1 stage starts for --pipeline 2"},
      {{"--pipeline", "2", "--checkpoint-dir", (tmp.path() / "ck").string(), "--checkpoint-every", "5"},
       "not every --checkpoint-every steps"},
      {{"--pipeline", "2", "--accumulate", "2"}, "does not combine with gradient accumulation"},
      {{"--pipeline", "2", "--optimizer", "adam"}, "spectrain weight policy predicts along SGD's momentum"},
      {{"--pipeline", "2", "--weight-policy", "gpipe"}, "--weight-policy"},
  };
  for (const auto& [extra, says] : cases) {
    CommandResult r = run_sprint(mlp(extra));
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace sprint::testing
