// plot_test.cpp: charts drawn by the real gnuplot (skipped, visibly, when it is not installed): PNG and SVG
// files, labels full of quotes, backslashes and would-be commands that must be printed, not run; and the
// errors: a missing gnuplot (one line with the install hint), empty or ragged charts, unknown extensions.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "sprint/core/error.h"
#include "sprint/profile/plot.h"
#include "support/test_util.h"

namespace sprint::profile {
namespace {
namespace fs = std::filesystem;

const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

bool have_gnuplot() { return !testing::find_on_path("gnuplot").empty(); }

#define SKIP_WITHOUT_GNUPLOT() \
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot is not on PATH (apt-get install gnuplot-nox)"

LineChart two_series() {
  LineChart chart{.title = "loss", .x_label = "epoch", .y_label = "loss", .series = {}, .integer_x = true};
  chart.series.push_back({"train", {1, 2, 3}, {1.0, 0.6, 0.4}});
  chart.series.push_back({"test", {1, 2, 3}, {1.1, NAN, 0.5}});  // a gap
  return chart;
}

TEST(Plot, LineChartAsPngAndSvg) {
  SKIP_WITHOUT_GNUPLOT();
  testing::TempDir tmp;
  plot_lines(two_series(), tmp.path() / "loss.png");
  EXPECT_TRUE(testing::read_file(tmp.path() / "loss.png").starts_with(kPngSignature));
  plot_lines(two_series(), tmp.path() / "loss.SVG");
  const std::string svg = testing::read_file(tmp.path() / "loss.SVG");
  EXPECT_NE(svg.find("<svg"), std::string::npos) << svg.substr(0, 200);
  EXPECT_NE(svg.find("train"), std::string::npos);
  // Only the two images: gnuplot's data, script and log went to a temporary directory.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 2);
}

TEST(Plot, HostileLabelsArePrintedNotRun) {
  SKIP_WITHOUT_GNUPLOT();
  testing::TempDir tmp;
  const fs::path marker = tmp.path() / "pwned";
  const std::string attack = "x'; system('touch " + marker.string() + "'); print '";
  const std::string attack2 = "x\"; system(\"touch " + marker.string() + "\"); print \"";
  LineChart chart = two_series();
  chart.title = attack + "\\";  // and a trailing backslash, gnuplot's line continuation outside quotes
  chart.x_label = attack2 + "\nset output '/dev/null'";
  chart.y_label = "`touch " + marker.string() + "`";
  chart.series[0].name = attack;
  chart.series[1].name = "back\\slash \\' quote";
  ASSERT_NO_THROW(plot_lines(chart, tmp.path() / "chart.svg"));
  EXPECT_FALSE(fs::exists(marker));
  const std::string svg = testing::read_file(tmp.path() / "chart.svg");
  EXPECT_NE(svg.find("system("), std::string::npos) << "the label is drawn as text";
  EXPECT_NE(svg.find("back\\slash"), std::string::npos);

  BarChart bars{
      .title = attack, .y_label = attack2, .bars = {{attack, 1.0, 0.1}, {"b\\", 2.0, std::nullopt}}};
  ASSERT_NO_THROW(plot_bars(bars, tmp.path() / "bars.png"));
  EXPECT_FALSE(fs::exists(marker));
}

TEST(Plot, BarChartWithErrorBars) {
  SKIP_WITHOUT_GNUPLOT();
  testing::TempDir tmp;
  BarChart chart{.title = "time per configuration", .y_label = "seconds", .bars = {}};
  for (int i = 0; i < 6; ++i) chart.bars.push_back({"config " + std::to_string(i), 1.0 + i, 0.1 * i});
  chart.bars[2].error.reset();
  plot_bars(chart, tmp.path() / "bars.png");
  EXPECT_TRUE(testing::read_file(tmp.path() / "bars.png").starts_with(kPngSignature));
  plot_bars(chart, tmp.path() / "bars.svg");
  EXPECT_NE(testing::read_file(tmp.path() / "bars.svg").find("config 5"), std::string::npos);
}

TEST(Plot, MissingGnuplotIsOneLineWithTheInstallHint) {
  testing::TempDir tmp;
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", tmp.path().c_str(), 1);  // an empty directory: no gnuplot
  try {
    plot_lines(two_series(), tmp.path() / "loss.png");
    ADD_FAILURE() << "expected IoError";
  } catch (const IoError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message, "gnuplot not found on PATH: install it (apt-get install gnuplot-nox)");
  }
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_FALSE(fs::exists(tmp.path() / "loss.png"));
}

TEST(Plot, BadChartsAndNames) {
  testing::TempDir tmp;
  LineChart empty{.title = "t", .x_label = "x", .y_label = "y", .series = {}, .integer_x = false};
  EXPECT_THROW(plot_lines(empty, tmp.path() / "a.png"), InvalidArgument);
  LineChart ragged = two_series();
  ragged.series[1].y.pop_back();
  EXPECT_THROW(plot_lines(ragged, tmp.path() / "a.png"), InvalidArgument);
  LineChart no_points = two_series();
  no_points.series[0].x.clear();
  no_points.series[0].y.clear();
  EXPECT_THROW(plot_lines(no_points, tmp.path() / "a.png"), InvalidArgument);
  EXPECT_THROW(plot_lines(two_series(), tmp.path() / "a.jpg"), InvalidArgument);
  EXPECT_THROW(plot_bars(BarChart{}, tmp.path() / "a.png"), InvalidArgument);
  EXPECT_EQ(image_format_for("x/y.PNG"), ImageFormat::kPng);
  EXPECT_EQ(image_format_for("y.svg"), ImageFormat::kSvg);
  EXPECT_THROW(image_format_for("y"), InvalidArgument);
  SKIP_WITHOUT_GNUPLOT();
  EXPECT_THROW(plot_lines(two_series(), tmp.path() / "missing-dir" / "a.png"), IoError);
}

}  // namespace
}  // namespace sprint::profile
