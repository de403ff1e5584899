// plot_test.cpp: `sprint plot` on the reports of two short runs on the random data set draws DIR/loss.png and
// DIR/accuracy.png (PNG signature checked; .svg with --format both; skipped, visibly, without gnuplot); bad
// input (a missing file, not JSON, a JSON without epochs, an unknown format) is one error line and the
// documented exit code, before anything is drawn.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

bool have_gnuplot() { return !testing::find_on_path("gnuplot").empty(); }

void train_report(const fs::path& report, const std::string& model, const std::string& seed) {
  const CommandResult r =
      run_sprint({"train", "--dataset", "random", "--model", model, "--samples", "100", "--epochs", "2",
                  "--seed", seed, "--progress", "off", "--report", report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST(PlotCommand, DrawsLossAndAccuracyOfSavedReports) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot is not on PATH (apt-get install gnuplot-nox)";
  TempDir tmp;
  train_report(tmp.path() / "a.json", "mlp", "1");
  train_report(tmp.path() / "b.json", "mlp2", "2");
  const fs::path out = tmp.path() / "plots";
  const CommandResult r = run_sprint(
      {"plot", (tmp.path() / "a.json").string(), (tmp.path() / "b.json").string(), "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string png_signature("\x89PNG\r\n\x1a\n", 8);
  for (const char* name : {"loss.png", "accuracy.png"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(read_text_file((out / name).string()).starts_with(png_signature));
    EXPECT_NE(r.out.find((out / name).string()), std::string::npos) << r.out;
  }
  EXPECT_FALSE(fs::exists(out / "loss.svg"));

  const CommandResult both =
      run_sprint({"plot", (tmp.path() / "a.json").string(), "--out", out.string(), "--format", "both"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  const std::string svg = read_text_file((out / "accuracy.svg").string());
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("mlp/random"), std::string::npos) << "the legend names the run";
  EXPECT_TRUE(read_text_file((out / "loss.png").string()).starts_with(png_signature));
}

TEST(PlotCommand, BadInputIsOneLineAndItsExitCode) {
  TempDir tmp;
  write_file(tmp.path() / "text.json", "this is not JSON");
  write_file(tmp.path() / "other.json", "{\"model\": \"mlp\"}");
  write_file(tmp.path() / "empty.json", "{\"model\": \"mlp\", \"epochs\": []}");
  write_file(tmp.path() / "ragged.json", "{\"epochs\": [{\"epoch\": 1}]}");
  const fs::path out = tmp.path() / "plots";
  const std::pair<std::string, int> cases[] = {{(tmp.path() / "missing.json").string(), 4},
                                               {(tmp.path() / "text.json").string(), 3},
                                               {(tmp.path() / "other.json").string(), 3},
                                               {(tmp.path() / "empty.json").string(), 3},
                                               {(tmp.path() / "ragged.json").string(), 3}};
  for (const auto& [file, code] : cases) {
    SCOPED_TRACE(file);
    const CommandResult r = run_sprint({"plot", file, "--out", out.string()});
    EXPECT_EQ(r.exit_code, code) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(out)) << "nothing is created before every report has been read";
  EXPECT_EQ(
      run_sprint({"plot", (tmp.path() / "empty.json").string(), "--out", out.string(), "--format", "gif"})
          .exit_code,
      2);
  EXPECT_EQ(run_sprint({"plot", "--out", out.string()}).exit_code, 2);  // no report
}

}  // namespace
}  // namespace sprint::testing
