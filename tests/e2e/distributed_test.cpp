// distributed_test.cpp: `sprint train --distributed` under mpiexec (2 ranks on this machine, oversubscribed). Two
// ranks on batch 16 each take the steps of one process on batch 32: the same losses to float rounding (the MLP
// has no BatchNorm, whose statistics stay per rank). Rank 0 alone prints and writes the report, which counts the
// traffic. Without a launcher, or without --distributed, the flags are one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

std::vector<std::string> run_args(const std::string& batch, const std::string& report) {
  return {"train", "--dataset", "random", "--model", "mlp2", "--samples", "640", "--features", "24", "--epochs",
          "3", "--batch-size", batch, "--lr", "0.05", "--progress", "off", "--threads", "1", "--report", report};
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Distributed, TwoRanksTrainAsOneProcessOnTheDoubledBatch) {
  TempDir tmp;
  const auto single_report = tmp.path() / "single.json", ddp_report = tmp.path() / "ddp.json";
  CommandResult single = run_sprint(run_args("32", single_report.string()));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  std::vector<std::string> args = {"-np", "2", "--oversubscribe", "--allow-run-as-root", SPRINT_BINARY};
  for (const std::string& a : run_args("16", ddp_report.string())) args.push_back(a);
  args.push_back("--distributed");
  CommandResult ddp = run_program(SPRINT_MPIEXEC, args);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.out << ddp.err;
  EXPECT_EQ(occurrences(ddp.out, "final test accuracy"), 1u) << ddp.out;  // rank 0 only
  EXPECT_NE(ddp.out.find("data parallel: 2 ranks over mpi"), std::string::npos) << ddp.out;
  const nlohmann::json s = read_json(single_report), d = read_json(ddp_report);
  ASSERT_EQ(d["epochs"].size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    SCOPED_TRACE(e);
    EXPECT_EQ(d["epochs"][e]["train_samples"], s["epochs"][e]["train_samples"]);
    const double loss = s["epochs"][e]["train_loss"].get<double>();
    EXPECT_NEAR(d["epochs"][e]["train_loss"].get<double>(), loss, 1e-4 * loss);
    const double test = s["epochs"][e]["test_loss"].get<double>();
    EXPECT_NEAR(d["epochs"][e]["test_loss"].get<double>(), test, 1e-4 * test);
  }
  EXPECT_LT(s["epochs"][2]["train_loss"].get<double>(), s["epochs"][0]["train_loss"].get<double>());
  const nlohmann::json& dist = d["distributed"];
  EXPECT_EQ(dist["ranks"], 2);
  EXPECT_EQ(dist["backend"], "mpi");
  EXPECT_EQ(dist["optimizer_steps"], 3 * 512 / 32);
  EXPECT_GT(dist["bytes_per_step"].get<double>(), 0.0);
  EXPECT_FALSE(s.contains("distributed"));
}

TEST(Distributed, FlagsWithoutALauncherAreOneLineErrors) {
  CommandResult alone = run_sprint({"train", "--dataset", "random", "--distributed"});
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_EQ(count_lines(alone.err), 1) << alone.err;
  EXPECT_NE(alone.err.find("start sprint under an MPI launcher"), std::string::npos) << alone.err;
  CommandResult timeout = run_sprint({"train", "--dataset", "random", "--dist-timeout", "5"});
  EXPECT_NE(timeout.exit_code, 0);
  EXPECT_NE(timeout.err.find("--dist-timeout needs --distributed"), std::string::npos) << timeout.err;
}

}  // namespace
}  // namespace sprint::testing
