// plot.h: charts drawn by gnuplot (a child process, argv only): line charts (several (x, y) series on one
// chart) and bar charts (one value per label, optional error bars, e.g. time per configuration), as PNG or
// SVG. The data and the script go to a temporary directory; the image is then written to its destination like
// every sprint output (data/output_file.h).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sprint::profile {

/// One line of a chart: points (x[i], y[i]); a non-finite y leaves a gap.
struct Series {
  std::string name;  ///< the legend entry
  std::vector<double> x, y;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool integer_x = false;  ///< x counts something (epochs): whole-number ticks
};

struct Bar {
  std::string label;
  double value = 0.0;
  std::optional<double> error;  ///< half-height of an error bar (spread), none when absent
};

struct BarChart {
  std::string title, y_label;
  std::vector<Bar> bars;
};

enum class ImageFormat { kPng, kSvg };

/// The format a file name asks for: ".png" or ".svg" (any case). Throws InvalidArgument otherwise.
ImageFormat image_format_for(const std::filesystem::path& path);

/// Draws the chart into `out` (.png: gnuplot's pngcairo terminal when it has one, else png; .svg). Titles,
/// labels and names are taken literally, whatever characters they hold. Throws InvalidArgument for an empty
/// chart or a series whose x and y differ in length, IoError when gnuplot is missing ("install it (apt-get
/// install gnuplot-nox)"), fails, or `out` cannot be written.
void plot_lines(const LineChart& chart, const std::filesystem::path& out);
void plot_bars(const BarChart& chart, const std::filesystem::path& out);

}  // namespace sprint::profile
