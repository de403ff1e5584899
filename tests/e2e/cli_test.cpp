// cli_test.cpp: the command line: help text, usage errors, one-line runtime errors, the --report schema and
// bit-for-bit determinism of a seeded CPU run.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

TEST(Cli, HelpListsEverySubcommandAndOption) {
  CommandResult top = run_sprint({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  for (const char* word : {"train", "data", "info", "--log-level", "--version"})
    EXPECT_NE(top.out.find(word), std::string::npos) << word;
  CommandResult train = run_sprint({"train", "--help"});
  EXPECT_EQ(train.exit_code, 0);
  for (const char* word : {"--model", "--dataset", "--epochs", "--batch-size", "--lr", "--momentum", "--weight-decay",
                           "--nesterov", "--seed", "--threads", "--device", "--report", "--data-dir", "--tf32",
                           "--deterministic", "mlp2", "cnn"})
    EXPECT_NE(train.out.find(word), std::string::npos) << word;
  CommandResult fetch = run_sprint({"data", "fetch", "--help"});
  EXPECT_EQ(fetch.exit_code, 0);
  EXPECT_NE(fetch.out.find("cifar10"), std::string::npos);
  EXPECT_EQ(run_sprint({"--version"}).exit_code, 0);
}

TEST(Cli, UsageErrorsExitNonZeroWithAMessage) {
  CommandResult r = run_sprint({"train", "--model", "nosuchmodel"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("model"), std::string::npos) << r.err;
  EXPECT_NE(run_sprint({"train", "--epochs", "0"}).exit_code, 0);
  EXPECT_NE(run_sprint({"train", "--batch-size", "abc"}).exit_code, 0);
  EXPECT_NE(run_sprint({}).exit_code, 0);
  EXPECT_NE(run_sprint({"data", "fetch", "imagenet"}).exit_code, 0);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--tf32", "maybe"}).exit_code, 0);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--deterministic", "1"}).exit_code, 0);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--optimizer", "lamb"}).exit_code, 0);
  CommandResult nesterov = run_sprint({"train", "--dataset", "random", "--optimizer", "adam", "--nesterov"});
  EXPECT_EQ(nesterov.exit_code, 2);
  EXPECT_EQ(count_lines(nesterov.err), 1) << nesterov.err;
  CommandResult adamw = run_sprint({"train", "--dataset", "random", "--epochs", "1", "--optimizer", "adamw"});
  EXPECT_EQ(adamw.exit_code, 0) << adamw.err;
  EXPECT_NE(adamw.out.find("AdamW(lr=0.001"), std::string::npos) << adamw.out;
  CommandResult onecycle =
      run_sprint({"train", "--dataset", "random", "--epochs", "2", "--schedule", "onecycle", "--warmup-pct", "0.25"});
  EXPECT_EQ(onecycle.exit_code, 0) << onecycle.err;
  EXPECT_NE(onecycle.out.find("one-cycle lr 0.0004 to 0.01"), std::string::npos) << onecycle.out;
  CommandResult piecewise = run_sprint(
      {"train", "--dataset", "random", "--epochs", "2", "--schedule", "piecewise", "--lr-knots", "0:0,1:0.05,2:0"});
  EXPECT_EQ(piecewise.exit_code, 0) << piecewise.err;
  EXPECT_NE(piecewise.out.find("piecewise-linear lr 0@0, 0.05@"), std::string::npos) << piecewise.out;
  // A percentage knot that floors onto the knot before it in a short run (23% of 2 steps: step 0) replaces it.
  CommandResult short_run = run_sprint({"train", "--dataset", "random", "--max-steps", "2", "--schedule", "piecewise",
                                        "--lr-knots", "0:0.2x,23%:1x,100%:0.07x"});
  EXPECT_EQ(short_run.exit_code, 0) << short_run.err;
  for (const char* knots : {"0-1", "0:0,0:1", "a:0.1", "0:x", ""}) {
    CommandResult bad = run_sprint({"train", "--dataset", "random", "--schedule", "piecewise", "--lr-knots", knots});
    EXPECT_EQ(bad.exit_code, 2) << knots;
    EXPECT_EQ(count_lines(bad.err), 1) << knots << ": " << bad.err;
  }
  // A schedule goes with --cuda-graph (planned on the device); the graph itself needs CUDA, and loss scaling (a host
  // decision every step) does not combine with it.
  CommandResult graph = run_sprint({"train", "--dataset", "random", "--schedule", "cosine", "--cuda-graph"});
  EXPECT_EQ(graph.exit_code, 2);
  EXPECT_EQ(count_lines(graph.err), 1) << graph.err;
  EXPECT_NE(graph.err.find("CUDA graphs need a CUDA device"), std::string::npos) << graph.err;
  CommandResult scaled_graph = run_sprint({"train", "--dataset", "random", "--loss-scale", "dynamic", "--cuda-graph"});
  EXPECT_EQ(scaled_graph.exit_code, 2);
  EXPECT_NE(scaled_graph.err.find("does not combine with --cuda-graph"), std::string::npos) << scaled_graph.err;
  // Mixed precision runs on the CPU too (half operands widened around f32 kernels, or bf16 convolutions on AMX),
  // with a one-line warning saying which.
  CommandResult amp = run_sprint({"train", "--dataset", "random", "--epochs", "1", "--amp", "bf16"});
  EXPECT_EQ(amp.exit_code, 0) << amp.err;
  EXPECT_EQ(count_lines(amp.err), 1) << amp.err;
  EXPECT_NE(amp.err.find("--amp bf16 on the CPU"), std::string::npos) << amp.err;
  CommandResult init_alone = run_sprint({"train", "--dataset", "random", "--loss-scale-init", "1024"});
  EXPECT_EQ(init_alone.exit_code, 2);
  EXPECT_NE(init_alone.err.find("dynamic loss scaling, which is off"), std::string::npos) << init_alone.err;
  // The numerics flags are accepted everywhere (the CPU backend has no TF32 and is deterministic either way).
  EXPECT_EQ(run_sprint({"train", "--dataset", "random", "--epochs", "1", "--tf32", "on", "--deterministic", "off"})
                .exit_code,
            0);
}

// Augmentation flags: bad values and augmentation of a data set without images are one line, exit code 1.
TEST(Cli, AugmentationErrorsAreOneClearLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"--flip", "sideways"}, {"--crop-mode", "wrap"}, {"--tta", "3"}, {"--tta", "-1"},
      {"--cutout", "-2"},     {"--crop-pad", "-1"},    {"--crop-pad", "2"}, {"--tta", "1"}};
  for (const auto& flags : bad) {
    std::vector<std::string> args = {"train", "--dataset", "random", "--epochs", "1"};
    args.insert(args.end(), flags.begin(), flags.end());
    CommandResult r = run_sprint(args);
    EXPECT_EQ(r.exit_code, 2) << flags[0] << " " << flags[1] << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("sprint: error:"), std::string::npos) << r.err;
  }
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--flip", "sideways"}).err.find("--flip"), std::string::npos);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--crop-pad", "2"}).err.find("image data set"),
            std::string::npos);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--cutout", "abc"}).exit_code, 0);
  CommandResult help = run_sprint({"train", "--help"});
  for (const char* flag : {"--crop-pad", "--crop-mode", "--flip", "--cutout", "--tta"})
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
}

TEST(Cli, MissingDataIsOneClearLine) {
  TempDir dir;
  CommandResult r = run_sprint({"train", "--dataset", "mnist", "--data-dir", dir.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("sprint data fetch mnist"), std::string::npos) << r.err;
}

TEST(Cli, UnavailableDeviceIsOneClearLine) {
  CommandResult r = run_sprint({"train", "--dataset", "random", "--device", "cuda:7"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("cuda"), std::string::npos) << r.err;
  CommandResult bad = run_sprint({"train", "--dataset", "random", "--device", "tpu"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown device"), std::string::npos) << bad.err;
}

TEST(Cli, ReportHasExactlyTheDocumentedSchema) {
  TempDir dir;
  const auto report = dir.path() / "run.json";
  CommandResult r = run_sprint({"train", "--dataset", "random", "--model", "mlp2", "--samples", "500", "--features",
                                "10", "--classes", "3", "--epochs", "2", "--batch-size", "32", "--lr", "0.05",
                                "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test acc"), std::string::npos);
  const nlohmann::json j = read_json(report);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"config", "dataset", "device", "epochs", "final", "model",
                                            "requested_epochs", "status"}));
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["requested_epochs"], 2.0);
  EXPECT_EQ(j["config"]["batch-size"], "32");  // every resolved setting, as text
  EXPECT_EQ(j["config"]["schedule"], "constant");
  EXPECT_EQ(j["model"], "mlp2");
  EXPECT_EQ(j["dataset"], "random");
  EXPECT_EQ(j["device"], "cpu");
  ASSERT_EQ(j["epochs"].size(), 2u);
  for (const auto& e : j["epochs"]) {
    std::vector<std::string> ek;
    for (auto it = e.begin(); it != e.end(); ++it) ek.push_back(it.key());
    std::sort(ek.begin(), ek.end());
    EXPECT_EQ(ek, (std::vector<std::string>{"epoch", "samples_per_second", "test_accuracy", "test_loss",
                                            "train_loss", "train_samples", "train_seconds"}));
    EXPECT_GT(e["samples_per_second"].get<double>(), 0.0);
    EXPECT_GE(e["test_accuracy"].get<double>(), 0.0);
    EXPECT_LE(e["test_accuracy"].get<double>(), 1.0);
  }
  EXPECT_EQ(j["epochs"][1]["epoch"], 2);
  EXPECT_EQ(j["final"].size(), 2u);
  EXPECT_EQ(j["final"]["test_accuracy"], j["epochs"][1]["test_accuracy"]);
  EXPECT_NEAR(j["final"]["train_seconds_total"].get<double>(),
              j["epochs"][0]["train_seconds"].get<double>() + j["epochs"][1]["train_seconds"].get<double>(), 1e-9);
  // The teacher-labelled random data is learnable: loss falls and accuracy beats chance (1/3).
  EXPECT_LT(j["epochs"][1]["train_loss"].get<double>(), j["epochs"][0]["train_loss"].get<double>());
  EXPECT_GT(j["final"]["test_accuracy"].get<double>(), 0.5);
}

// Fractional epochs, --max-steps and --drop-last decide how many samples each epoch trains on (400 training
// samples of the 500, batch 32: 13 batches, the last one of 16).
TEST(Cli, RunLengthFlags) {
  TempDir dir;
  auto run = [&](std::vector<std::string> extra) {
    const auto report = dir.path() / "run.json";
    std::vector<std::string> args{"train", "--dataset", "random", "--model", "mlp2", "--samples", "500",
                                  "--features", "10", "--classes", "3", "--batch-size", "32", "--report",
                                  report.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = run_sprint(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<int64_t> samples;
    const nlohmann::json j = read_json(report);
    for (const auto& e : j["epochs"]) samples.push_back(e["train_samples"].get<int64_t>());
    return samples;
  };
  EXPECT_EQ(run({"--epochs", "1.5"}), (std::vector<int64_t>{400, 224}));  // ceil(1.5 x 13) = 20 steps: 7 in epoch 2
  EXPECT_EQ(run({"--epochs", "3", "--max-steps", "15"}), (std::vector<int64_t>{400, 64}));
  EXPECT_EQ(run({"--epochs", "2", "--drop-last"}), (std::vector<int64_t>{384, 384}));
  EXPECT_EQ(run({"--epochs", "2", "--lookahead", "5", "--bn-bias-lr-scale", "64", "--loss-reduction", "sum",
                 "--lr", "0.001", "--schedule", "piecewise", "--lr-knots", "0:0.2x,23%:1x,100%:0.07x"}),
            (std::vector<int64_t>{400, 400}));
  for (const char* knots : {"5q:1", "0:1y", "-1%:1", "0:-0.5x"}) {
    CommandResult bad = run_sprint({"train", "--dataset", "random", "--schedule", "piecewise", "--lr-knots", knots});
    EXPECT_EQ(bad.exit_code, 2) << knots;
    EXPECT_EQ(count_lines(bad.err), 1) << knots << ": " << bad.err;
  }
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--loss-reduction", "max"}).exit_code, 0);
  EXPECT_NE(run_sprint({"train", "--dataset", "random", "--epochs", "0.0001"}).exit_code, 0);
}

TEST(Cli, UnwritableReportIsAnError) {
  CommandResult r = run_sprint({"train", "--dataset", "random", "--epochs", "1", "--report",
                                "/nonexistent-dir/run.json"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("/nonexistent-dir/run.json"), std::string::npos) << r.err;
  // A directory as the report path fails before any training (no epoch table on stdout).
  TempDir dir;
  CommandResult d = run_sprint({"train", "--dataset", "random", "--epochs", "1", "--report", dir.path().string()});
  EXPECT_EQ(d.exit_code, 4);
  EXPECT_NE(d.err.find("is a directory"), std::string::npos) << d.err;
  EXPECT_EQ(d.out.find("epoch"), std::string::npos) << d.out;
}

TEST(Cli, SeededCpuRunsAreBitForBitIdenticalForAnyLoader) {
  TempDir dir;
  auto run = [&](const std::string& workers, const std::string& name, const std::string& resident = "off") {
    const auto path = dir.path() / name;
    CommandResult r = run_sprint({"train", "--dataset", "random", "--model", "mlp2", "--samples", "400", "--epochs",
                                  "2", "--seed", "7", "--workers", workers, "--resident-data", resident, "--report",
                                  path.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return read_json(path);
  };
  const nlohmann::json a = run("0", "a.json"), b = run("3", "b.json"), r = run("1", "r.json", "on");
  for (size_t e = 0; e < 2; ++e) {
    for (const nlohmann::json* other : {&b, &r}) {
      EXPECT_EQ(a["epochs"][e]["train_loss"].get<double>(), (*other)["epochs"][e]["train_loss"].get<double>());
      EXPECT_EQ(a["epochs"][e]["test_loss"].get<double>(), (*other)["epochs"][e]["test_loss"].get<double>());
    }
  }
  const nlohmann::json c = [&] {
    const auto path = dir.path() / "c.json";
    CommandResult r = run_sprint({"train", "--dataset", "random", "--model", "mlp2", "--samples", "400", "--epochs",
                                  "2", "--seed", "8", "--report", path.string()});
    EXPECT_EQ(r.exit_code, 0);
    return read_json(path);
  }();
  EXPECT_NE(a["epochs"][0]["train_loss"].get<double>(), c["epochs"][0]["train_loss"].get<double>());
}

TEST(Cli, InfoDescribesTheBuild) {
  CommandResult r = run_sprint({"info"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("CUDA"), std::string::npos);
}

}  // namespace
}  // namespace sprint::testing
