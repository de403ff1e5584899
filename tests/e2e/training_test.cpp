// training_test.cpp: real-data training through the CLI. The MLP must reach >= 80% on FashionMNIST after one
// epoch (the acceptance test; PyTorch's same recipe reaches 84.2%).
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

std::string require_fashion_mnist() {
  const std::string dir = fashion_mnist_data_dir();
  if (dir.empty()) {
    const char* require = std::getenv("SPRINT_REQUIRE_DATA");
    if (require && std::string(require) == "1")
      ADD_FAILURE() << "FashionMNIST is not installed: run `sprint data fetch fashion-mnist` (make test does)";
  }
  return dir;
}

TEST(Training, MlpLearnsFashionMnistInOneEpoch) {
  const std::string data_dir = require_fashion_mnist();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const auto report = tmp.path() / "mlp.json";
  CommandResult r = run_sprint({"train", "--model", "mlp", "--dataset", "fashion-mnist", "--epochs", "1",
                                "--data-dir", data_dir, "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(report);
  const nlohmann::json j = nlohmann::json::parse(in);
  const double accuracy = j["final"]["test_accuracy"].get<double>();
  std::printf("MLP FashionMNIST 1 epoch: test accuracy %.4f, %.3f s\n", accuracy,
              j["final"]["train_seconds_total"].get<double>());
  EXPECT_GE(accuracy, 0.80);
}

// The CNN takes NCHW or channels-last batches (--memory-format): the layout changes how the conv/pool/flatten ops
// walk memory, never what they compute, so the two runs agree to float rounding.
TEST(Training, CnnTrainsTheSameInEveryMemoryFormat) {
  const std::string data_dir = require_fashion_mnist();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  auto run = [&](const std::string& format) {
    const auto report = tmp.path() / (format + ".json");
    CommandResult r = run_sprint({"train", "--model", "cnn", "--dataset", "fashion-mnist", "--epochs", "1",
                                  "--limit-train", "2048", "--limit-test", "256", "--memory-format", format,
                                  "--data-dir", data_dir, "--report", report.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("memory (cpu): peak"), std::string::npos) << r.out;
    std::ifstream in(report);
    return nlohmann::json::parse(in);
  };
  const nlohmann::json nchw = run("nchw");
  const double loss = nchw["epochs"][0]["train_loss"].get<double>();
  for (const std::string format : {"nhwc", "blocked", "auto"}) {  // auto = channel-blocked on the CPU
    SCOPED_TRACE(format);
    const nlohmann::json other = run(format);
    EXPECT_NEAR(other["epochs"][0]["train_loss"].get<double>(), loss, 1e-4 * loss);
    EXPECT_NEAR(other["epochs"][0]["test_loss"].get<double>(), nchw["epochs"][0]["test_loss"].get<double>(), 1e-3);
  }
  EXPECT_LT(loss, 2.0);  // learned something (chance: ln 10 = 2.30)
}

// Dynamic loss scaling on the CPU (f32): the report carries each epoch's scale and skipped steps; on clean steps
// a power-of-two scale changes nothing, so the losses equal an unscaled run's.
TEST(Training, LossScalingIsReportedAndExactOnCleanSteps) {
  TempDir tmp;
  auto run = [&](const std::vector<std::string>& extra) {
    const auto report = tmp.path() / "run.json";
    std::vector<std::string> args = {"train", "--dataset", "random", "--epochs", "2", "--progress", "off",
                                     "--report", report.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = run_sprint(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(report);
    return nlohmann::json::parse(in);
  };
  const nlohmann::json scaled = run({"--loss-scale", "dynamic", "--loss-scale-init", "256", "--loss-scale-interval",
                                     "2"});
  const nlohmann::json plain = run({});
  ASSERT_EQ(scaled["epochs"].size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(scaled["epochs"][e]["skipped_steps"].get<int64_t>(), 0);
    EXPECT_EQ(scaled["epochs"][e]["train_loss"], plain["epochs"][e]["train_loss"]);
    EXPECT_FALSE(plain["epochs"][e].contains("loss_scale"));
  }
  EXPECT_GT(scaled["epochs"][1]["loss_scale"].get<double>(), 256.0);  // clean steps grew it
  EXPECT_EQ(scaled["config"]["loss-scale"], "dynamic");
}

// --amp on the CPU: the CNN's convolutions, pooling and dense layers compute in bf16 or f16 (operands widened
// around the f32 kernels) from f32 master weights, and train as the f32 run does to within half-precision
// rounding; f16 turns on dynamic loss scaling, whose scale the report carries.
TEST(Training, MixedPrecisionTrainsTheCnnOnTheCpu) {
  const std::string data_dir = require_fashion_mnist();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  auto run = [&](const std::string& amp) {
    const auto report = tmp.path() / (amp + ".json");
    CommandResult r = run_sprint({"train", "--model", "cnn", "--dataset", "fashion-mnist", "--epochs", "1",
                                  "--limit-train", "2048", "--limit-test", "512", "--amp", amp, "--progress", "off",
                                  "--data-dir", data_dir, "--report", report.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (amp != "off") {
      EXPECT_NE(r.err.find("--amp " + amp + " on the CPU"), std::string::npos) << r.err;
    }
    std::ifstream in(report);
    return nlohmann::json::parse(in);
  };
  const nlohmann::json f32 = run("off");
  const double loss = f32["epochs"][0]["train_loss"].get<double>();
  const double accuracy = f32["final"]["test_accuracy"].get<double>();
  for (const std::string amp : {"bf16", "f16"}) {
    SCOPED_TRACE(amp);
    const nlohmann::json half = run(amp);
    EXPECT_EQ(half["config"]["amp"], amp);
    EXPECT_NEAR(half["epochs"][0]["train_loss"].get<double>(), loss, 0.05 * loss);
    EXPECT_NEAR(half["final"]["test_accuracy"].get<double>(), accuracy, 0.04);
    EXPECT_NE(half["epochs"][0]["train_loss"], f32["epochs"][0]["train_loss"]);  // it did round
    EXPECT_EQ(half["epochs"][0].contains("loss_scale"), amp == "f16");
  }
  EXPECT_LT(loss, 2.0);
}

// --cpu-kernels reference runs the plain loops every fast path is tested against: the same training to float
// rounding (the bench's "what the libraries buy" compares the two).
TEST(Training, ReferenceKernelsTrainLikeTheFastOnes) {
  TempDir tmp;
  auto loss = [&](const std::string& kernels) {
    const auto report = tmp.path() / (kernels + ".json");
    CommandResult r = run_sprint({"train", "--dataset", "random", "--model", "mlp2", "--epochs", "2", "--progress",
                                  "off", "--cpu-kernels", kernels, "--report", report.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(report);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["config"]["cpu-kernels"], kernels);
    return j["epochs"][1]["train_loss"].get<double>();
  };
  const double fast = loss("fast"), reference = loss("reference");
  EXPECT_NEAR(reference, fast, 1e-4 * std::abs(fast));
  EXPECT_EQ(run_sprint({"train", "--dataset", "random", "--cpu-kernels", "slow"}).exit_code, 2);
}

}  // namespace
}  // namespace sprint::testing
