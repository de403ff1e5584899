// gnuplot_script.cpp: gnuplot script and data text for line and bar charts (see gnuplot_script.h).
#include "sprint/profile/gnuplot_script.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sprint::profile {
namespace {

constexpr const char* kSize = "size 900,560";

std::string number(double v) {
  return std::isfinite(v) ? fmt::format("{:.17g}", v) : std::string("NaN");
}

// Terminal and output lines. noenhanced: '_', '^' and '{' in labels are printed, not read as markup.
std::string preamble(const std::filesystem::path& image, ImageFormat format, std::string_view title) {
  std::string s;
  if (format == ImageFormat::kPng) {
    s += fmt::format(
        "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {{\n  set terminal pngcairo noenhanced {}\n}} else "
        "{{\n"
        "  set terminal png noenhanced {}\n}}\n",
        kSize, kSize);
  } else {
    s += fmt::format("set terminal svg noenhanced {}\n", kSize);
  }
  s += "set output " + gnuplot_string(image.string()) + "\n";
  s += "set encoding utf8\n";
  s += "set title " + gnuplot_string(title) + "\n";
  return s;
}

}  // namespace

std::string gnuplot_string(std::string_view text) {
  std::string s = "'";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'')
      s += "''";
    else if (u < 0x20 || u == 0x7F)
      s += ' ';
    else
      s += c;
  }
  return s + "'";
}

std::string line_chart_data(const LineChart& chart) {
  std::string s;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    if (i > 0) s += "\n\n";
    const Series& series = chart.series[i];
    for (size_t k = 0; k < series.x.size() && k < series.y.size(); ++k)
      s += number(series.x[k]) + " " + number(series.y[k]) + "\n";
  }
  return s;
}

std::string line_chart_script(const LineChart& chart, const std::filesystem::path& data,
                              const std::filesystem::path& image, ImageFormat format) {
  std::string s = preamble(image, format, chart.title);
  s += "set xlabel " + gnuplot_string(chart.x_label) + "\n";
  s += "set ylabel " + gnuplot_string(chart.y_label) + "\n";
  s += "set grid\nset key outside right top\nset offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05\n";
  if (chart.integer_x) {
    double lo = INFINITY, hi = -INFINITY;
    for (const Series& series : chart.series)
      for (const double x : series.x)
        if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    const double range = hi > lo ? hi - lo : 1.0;
    s += fmt::format("set xtics {}\nset format x '%.0f'\n", std::max(1.0, std::ceil(range / 10.0)));
  }
  s += "plot";
  for (size_t i = 0; i < chart.series.size(); ++i) {
    s += fmt::format("{} {} index {} using 1:2 with linespoints linewidth 2 title {}", i == 0 ? "" : ",",
                     i == 0 ? gnuplot_string(data.string()) : std::string("''"), i,
                     gnuplot_string(chart.series[i].name));
  }
  return s + "\nunset output\n";
}

std::string bar_chart_data(const BarChart& chart) {
  std::string s;
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const Bar& bar = chart.bars[i];
    s += fmt::format("{} {} {}\n", i, number(bar.value), bar.error ? number(*bar.error) : std::string("NaN"));
  }
  return s;
}

std::string bar_chart_script(const BarChart& chart, const std::filesystem::path& data,
                             const std::filesystem::path& image, ImageFormat format) {
  std::string s = preamble(image, format, chart.title);
  s += "set ylabel " + gnuplot_string(chart.y_label) + "\n";
  s += "set style fill solid 0.6 border -1\nset boxwidth 0.6\nset grid ytics\nset key off\n";
  s += fmt::format("set xrange [-0.5:{}]\n", static_cast<double>(chart.bars.size()) - 0.5);
  const bool non_negative =
      std::all_of(chart.bars.begin(), chart.bars.end(), [](const Bar& b) { return !(b.value < 0.0); });
  if (non_negative) s += "set yrange [0:*]\n";
  s += "set xtics (";
  for (size_t i = 0; i < chart.bars.size(); ++i)
    s += fmt::format("{}{} {}", i == 0 ? "" : ", ", gnuplot_string(chart.bars[i].label), i);
  s += chart.bars.size() > 4 ? ") rotate by -30 left\n" : ")\n";
  s += "plot " + gnuplot_string(data.string()) + " using 1:2 with boxes";
  const bool errors =
      std::any_of(chart.bars.begin(), chart.bars.end(), [](const Bar& b) { return b.error.has_value(); });
  if (errors) s += ", '' using 1:2:3 with yerrorbars linecolor rgb 'black' pointtype 0";
  return s + "\nunset output\n";
}

}  // namespace sprint::profile
