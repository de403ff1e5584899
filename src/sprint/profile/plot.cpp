// plot.cpp: runs gnuplot on the scripts of gnuplot_script.h in a temporary directory and writes the image.
#include "sprint/profile/plot.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <iterator>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"
#include "sprint/data/process.h"
#include "sprint/profile/gnuplot_script.h"

namespace sprint::profile {
namespace {
namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) SPRINT_THROW(IoError, "cannot write {}", path.string());
}

std::string image_name(ImageFormat format) {
  return format == ImageFormat::kPng ? "chart.png" : "chart.svg";
}

// Writes data and script into a temporary directory, runs gnuplot there and moves the image to `out`.
template <class Chart, class DataFn, class ScriptFn>
void draw(const Chart& chart, const fs::path& out, DataFn data_text, ScriptFn script_text) {
  const ImageFormat format = image_format_for(out);
  data::check_output_path(out, "plot");
  const data::ScopedTempDir tmp(fs::temp_directory_path(), "sprint-plot-");
  const fs::path data_path = tmp.path() / "chart.dat", script = tmp.path() / "chart.gp";
  const fs::path image = tmp.path() / image_name(format);
  write_text(data_path, data_text(chart));
  write_text(script, script_text(chart, data_path, image, format));
  data::run_program({.argv = {"gnuplot", script.string()},
                     .cwd = tmp.path(),
                     .log_path = tmp.path() / "gnuplot.log",
                     .install_hint = "apt-get install gnuplot-nox"});
  std::ifstream in(image, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (!in.good() && !in.eof())
    SPRINT_THROW(IoError, "cannot read the image gnuplot drew ({})", image.string());
  if (bytes.empty()) {
    const std::string log = data::file_tail(tmp.path() / "gnuplot.log", 5);
    SPRINT_THROW(IoError, "gnuplot drew no image for {}{}", out.string(), log.empty() ? "" : ": " + log);
  }
  data::write_output_file(
      out, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace

ImageFormat image_format_for(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return ImageFormat::kPng;
  if (ext == ".svg") return ImageFormat::kSvg;
  SPRINT_THROW(InvalidArgument, "{}: a chart is written as .png or .svg", path.string());
}

void plot_lines(const LineChart& chart, const fs::path& out) {
  SPRINT_CHECK(!chart.series.empty(), "line chart '{}' has no series", chart.title);
  for (const Series& s : chart.series) {
    SPRINT_CHECK(s.x.size() == s.y.size(), "series '{}' has {} x values and {} y values", s.name, s.x.size(),
                 s.y.size());
    SPRINT_CHECK(!s.x.empty(), "series '{}' of chart '{}' has no points", s.name, chart.title);
  }
  draw(chart, out, line_chart_data, line_chart_script);
}

void plot_bars(const BarChart& chart, const fs::path& out) {
  SPRINT_CHECK(!chart.bars.empty(), "bar chart '{}' has no bars", chart.title);
  draw(chart, out, bar_chart_data, bar_chart_script);
}

}  // namespace sprint::profile
