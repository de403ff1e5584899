// training_test.cpp: real-data training through the CLI. The MLP must reach >= 80% on FashionMNIST after one
// epoch (the acceptance test; PyTorch's same recipe reaches 84.2%).
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

}  // namespace
}  // namespace sprint::testing
