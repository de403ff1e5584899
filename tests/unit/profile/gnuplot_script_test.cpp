// gnuplot_script_test.cpp: the text of the chart scripts and data files: how strings are quoted (quotes,
// backslashes, newlines cannot end a literal or start a command), what each chart asks gnuplot for, and the
// data blocks. plot_test.cpp runs gnuplot on them.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sprint/profile/gnuplot_script.h"

namespace sprint::profile {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(GnuplotScript, StringsAreSingleQuotedLiterals) {
  EXPECT_EQ(gnuplot_string("loss"), "'loss'");
  EXPECT_EQ(gnuplot_string(""), "''");
  EXPECT_EQ(gnuplot_string("it's"), "'it''s'");
  EXPECT_EQ(gnuplot_string("''"), "''''''");
  EXPECT_EQ(gnuplot_string(R"(C:\runs\ "x" `date`)"),
            R"('C:\runs\ "x" `date`')");                 // nothing expands in '...'
  EXPECT_EQ(gnuplot_string("a\nb\tc\rd"), "'a b c d'");  // a newline would end the command
  EXPECT_EQ(gnuplot_string("back\\"), "'back\\'");       // a trailing backslash stays inside the quotes
  EXPECT_EQ(gnuplot_string("ünïcode ✓"), "'ünïcode ✓'");
}

TEST(GnuplotScript, LineChart) {
  LineChart chart{
      .title = "Loss's \"trend\"", .x_label = "epoch", .y_label = "loss", .series = {}, .integer_x = true};
  chart.series.push_back({"mlp/random train", {1, 2, 3}, {0.9, 0.5, NAN}});
  chart.series.push_back({"it's test", {1, 2}, {1.0, 0.25}});
  EXPECT_EQ(line_chart_data(chart), "1 0.90000000000000002\n2 0.5\n3 NaN\n\n\n1 1\n2 0.25\n");

  const std::string png = line_chart_script(chart, "/tmp/d/chart.dat", "/tmp/d/chart.png", ImageFormat::kPng);
  EXPECT_TRUE(contains(png, "strstrt(GPVAL_TERMINALS, 'pngcairo') > 0")) << png;
  EXPECT_TRUE(contains(png, "set terminal pngcairo noenhanced")) << png;
  EXPECT_TRUE(contains(png, "set terminal png noenhanced")) << png;
  EXPECT_TRUE(contains(png, "set output '/tmp/d/chart.png'\n")) << png;
  EXPECT_TRUE(contains(png, "set title 'Loss''s \"trend\"'\n")) << png;
  EXPECT_TRUE(contains(png, "set xlabel 'epoch'\nset ylabel 'loss'\n")) << png;
  EXPECT_TRUE(contains(png, "set xtics 1\n")) << png;
  EXPECT_TRUE(
      contains(png,
               "plot '/tmp/d/chart.dat' index 0 using 1:2 with linespoints linewidth 2 title "
               "'mlp/random train', '' index 1 using 1:2 with linespoints linewidth 2 title 'it''s test'\n"))
      << png;
  EXPECT_TRUE(png.ends_with("unset output\n"));

  const std::string svg = line_chart_script(chart, "d.dat", "c.svg", ImageFormat::kSvg);
  EXPECT_TRUE(contains(svg, "set terminal svg noenhanced")) << svg;
  EXPECT_FALSE(contains(svg, "pngcairo")) << svg;
}

TEST(GnuplotScript, BarChart) {
  BarChart chart{.title = "time per configuration", .y_label = "seconds", .bars = {}};
  chart.bars.push_back({"batch 64", 2.5, 0.25});
  chart.bars.push_back({"it's \"fast\"", 1.0, std::nullopt});
  EXPECT_EQ(bar_chart_data(chart), "0 2.5 0.25\n1 1 NaN\n");
  const std::string s = bar_chart_script(chart, "b.dat", "b.png", ImageFormat::kPng);
  EXPECT_TRUE(contains(s, "set xtics ('batch 64' 0, 'it''s \"fast\"' 1)\n")) << s;
  EXPECT_TRUE(contains(s, "set xrange [-0.5:1.5]\n")) << s;
  EXPECT_TRUE(contains(s, "set yrange [0:*]\n")) << s;
  EXPECT_TRUE(contains(s, "plot 'b.dat' using 1:2 with boxes, '' using 1:2:3 with yerrorbars")) << s;

  chart.bars[0].error.reset();
  chart.bars[0].value = -1.0;  // below zero: the y range is left to gnuplot
  const std::string plain = bar_chart_script(chart, "b.dat", "b.png", ImageFormat::kPng);
  EXPECT_FALSE(contains(plain, "yerrorbars")) << plain;
  EXPECT_FALSE(contains(plain, "set yrange")) << plain;
}

}  // namespace
}  // namespace sprint::profile
