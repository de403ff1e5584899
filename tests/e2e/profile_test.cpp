// profile_test.cpp: `sprint train --profile` prints a table naming the model's layers, writes a Chrome trace
// that parses and nests and puts "profile" in the report; `sprint profile` does the same for mlp2 on the
// random data set and cnn on (blank) FashionMNIST images; bad profiling options are one error line with the
// documented exit code before any training.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/chrome_trace_check.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

// The table's rows: "name  phase  calls ..." lines.
bool has_row(const std::string& out, const std::string& name, const std::string& phase) {
  size_t at = 0;
  while ((at = out.find("\n" + name + " ", at)) != std::string::npos) {
    const size_t end = out.find('\n', at + 1);
    if (out.substr(at, end - at).find(" " + phase + " ") != std::string::npos) return true;
    at = end;
  }
  return false;
}

TEST(Profile, TrainPrintsTheTableWritesTheTraceAndReports) {
  TempDir tmp;
  const fs::path trace = tmp.path() / "t.json", report = tmp.path() / "r.json";
  const CommandResult r =
      run_sprint({"train", "--dataset", "random", "--model", "mlp2", "--epochs", "3", "--progress", "off",
                  "--profile", "--profile-steps", "3", "--profile-warmup", "1", "--trace", trace.string(),
                  "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("profile: 3 steps after 1 warm-up on cpu"), std::string::npos) << r.out;
  for (const char* layer : {"fc1", "fc2"}) {
    EXPECT_TRUE(has_row(r.out, layer, "forward")) << layer << "\n" << r.out;
    EXPECT_TRUE(has_row(r.out, layer, "backward")) << layer << "\n" << r.out;
  }
  EXPECT_TRUE(has_row(r.out, "optimizer", "optimizer")) << r.out;
  EXPECT_TRUE(has_row(r.out, "data wait", "data")) << r.out;
  EXPECT_NE(r.out.find("memory cpu: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("final test accuracy"), std::string::npos) << "the run continues normally:\n" << r.out;

  size_t n_events = 0;
  EXPECT_TRUE(is_valid_chrome_trace(read_text_file(trace.string()), &n_events));
  EXPECT_GT(n_events,
            3u * 8u);  // 3 steps of data wait, model, loss, optimizer, fc1..fc3 forward and backward
  const std::string trace_text = read_text_file(trace.string());
  EXPECT_NE(trace_text.find("\"name\":\"fc1\""), std::string::npos);

  const nlohmann::json j = nlohmann::json::parse(read_text_file(report.string()));
  ASSERT_TRUE(j.contains("profile")) << j.dump(2);
  EXPECT_EQ(j["profile"]["steps"], 3);
  EXPECT_EQ(j["profile"]["warmup_steps"], 1);
  EXPECT_EQ(j["epochs"].size(), 3u);
  double self_share = 0.0;
  bool fc1 = false;
  for (const nlohmann::json& row : j["profile"]["rows"]) {
    self_share += row["self_share"].get<double>();
    if (row["name"] == "fc1" && row["phase"] == "forward") {
      fc1 = true;
      EXPECT_EQ(row["calls"], 3);
      EXPECT_GT(row["flops"].get<int64_t>(), 0);
    }
  }
  EXPECT_TRUE(fc1);
  EXPECT_NEAR(self_share, 1.0, 1e-6);
}

TEST(Profile, ProfileCommandOnRandomFeatureData) {
  TempDir tmp;
  const fs::path trace = tmp.path() / "mlp2.json";
  const CommandResult r = run_sprint({"profile", "--model", "mlp2", "--dataset", "random", "--steps", "4",
                                      "--warmup", "2", "--batch-size", "16", "--trace", trace.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("profile: 4 steps after 2 warm-up on cpu"), std::string::npos) << r.out;
  EXPECT_TRUE(has_row(r.out, "fc1", "forward")) << r.out;
  EXPECT_EQ(r.out.find("epoch  train loss"), std::string::npos) << "no epoch table:\n" << r.out;
  EXPECT_EQ(r.out.find("final test accuracy"), std::string::npos) << r.out;
  EXPECT_TRUE(is_valid_chrome_trace(read_text_file(trace.string())));
}

TEST(Profile, ProfileCommandOnTheCnnWithImages) {
  TempDir tmp;
  const fs::path data_dir = write_blank_fashion_mnist(tmp.path() / "data");
  const fs::path report = tmp.path() / "profile.json";
  const CommandResult r =
      run_sprint({"profile", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir.string(),
                  "--steps", "3", "--warmup", "1", "--batch-size", "32", "--threads", "1", "--report",
                  report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* layer : {"c1", "c2", "f1", "f2"})
    EXPECT_TRUE(has_row(r.out, layer, "forward")) << layer << r.out;
  EXPECT_TRUE(has_row(r.out, "c1", "backward")) << r.out;
  // The spans account for the measured step time: what falls outside every span ("[other]") is under 5% of it.
  const nlohmann::json j = nlohmann::json::parse(read_text_file(report.string()));
  bool other = false;
  for (const nlohmann::json& row : j["profile"]["rows"]) {
    if (row["name"] != "[other]") continue;
    other = true;
    EXPECT_LT(row["self_share"].get<double>(), 0.05) << j["profile"].dump(2);
  }
  EXPECT_TRUE(other) << "no [other] row: " << j["profile"].dump(2);
}

TEST(Profile, BadOptionsAreOneErrorLineBeforeTraining) {
  TempDir tmp;
  const std::vector<std::string> base = {"train", "--dataset",  "random", "--model",
                                         "mlp2",  "--progress", "off"};
  const auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_sprint(args);
  };
  CommandResult r = run({"--profile", "--profile-steps", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--profile-steps"), std::string::npos) << r.err;

  r = run({"--profile", "--trace", (tmp.path() / "missing-dir" / "t.json").string()});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--trace"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("epoch"), std::string::npos) << "checked before training:\n" << r.out;

  r = run({"--trace", (tmp.path() / "t.json").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--trace needs --profile"), std::string::npos) << r.err;

  r = run({"--profile-steps", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--profile-steps needs --profile"), std::string::npos) << r.err;

  r = run_sprint({"profile", "--model", "mlp2", "--steps", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

}  // namespace
}  // namespace sprint::testing
