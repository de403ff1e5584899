// gnuplot_script.h: the text of the gnuplot scripts and data files behind plot.h, as pure functions so that
// tests can read them. Every user string enters a script through gnuplot_string(): a single-quoted literal,
// in which gnuplot expands nothing (no backslash escapes, no `...` command substitution) and '' stands for
// one quote.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "sprint/profile/plot.h"

namespace sprint::profile {

/// `text` as a gnuplot single-quoted string: quotes doubled, control characters (newlines, tabs) turned into
/// spaces so the literal stays on its line.
std::string gnuplot_string(std::string_view text);

/// The data file of a line chart: one block of "x y" lines per series, blocks separated by two blank lines
/// (gnuplot's `index`); non-finite values as NaN.
std::string line_chart_data(const LineChart& chart);
/// The script drawing `chart` from `data` into `image`.
std::string line_chart_script(const LineChart& chart, const std::filesystem::path& data,
                              const std::filesystem::path& image, ImageFormat format);

/// The data file of a bar chart: "index value error" per bar (error NaN when absent).
std::string bar_chart_data(const BarChart& chart);
std::string bar_chart_script(const BarChart& chart, const std::filesystem::path& data,
                             const std::filesystem::path& image, ImageFormat format);

}  // namespace sprint::profile
