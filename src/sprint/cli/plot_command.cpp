// plot_command.cpp: `sprint plot REPORT.json... --out DIR`: loss (train and test) and test accuracy per epoch
// of saved `sprint train --report` files, one series per report, drawn by gnuplot into DIR/loss.png and
// DIR/accuracy.png (or .svg).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sprint/cli/commands.h"
#include "sprint/core/error.h"
#include "sprint/data/file_io.h"
#include "sprint/data/output_file.h"
#include "sprint/profile/plot.h"
#include "sprint/train/report.h"

namespace sprint::cli {
namespace {
namespace fs = std::filesystem;

struct LoadedReport {
  std::string path;
  train::RunReport report;
  std::string label;  ///< the legend entry
};

LoadedReport load_report(const std::string& path) {
  const std::vector<uint8_t> bytes = data::read_file_bytes(path);  // IoError naming the path
  LoadedReport r{path, train::parse_report_json(std::string(bytes.begin(), bytes.end()), path), {}};
  if (r.report.epochs.empty()) SPRINT_THROW(FormatError, "{}: the report has no epochs to plot", path);
  return r;
}

/// Legends: "model/dataset", unless two reports share it (or it is missing): then the file stem, or the path
/// when stems collide too.
void assign_labels(std::vector<LoadedReport>& reports) {
  std::map<std::string, int> by_run, by_stem;
  const auto run_name = [](const train::RunReport& r) {
    return r.model.empty() || r.dataset.empty() ? std::string() : r.model + "/" + r.dataset;
  };
  for (const LoadedReport& r : reports) {
    ++by_run[run_name(r.report)];
    ++by_stem[fs::path(r.path).stem().string()];
  }
  for (LoadedReport& r : reports) {
    const std::string run = run_name(r.report), stem = fs::path(r.path).stem().string();
    if (!run.empty() && by_run[run] == 1)
      r.label = run;
    else if (by_stem[stem] == 1)
      r.label = stem;
    else
      r.label = r.path;
  }
}

profile::Series epoch_series(const std::string& name, const train::RunReport& report,
                             double (*value)(const train::EpochStats&)) {
  profile::Series s{name, {}, {}};
  for (const train::EpochStats& e : report.epochs) {
    s.x.push_back(static_cast<double>(e.epoch));
    s.y.push_back(value(e));
  }
  return s;
}

}  // namespace

int run_plot(const PlotArgs& a) {
  SPRINT_CHECK(!a.reports.empty(), "sprint plot needs at least one report file");
  SPRINT_CHECK(a.format == "png" || a.format == "svg" || a.format == "both",
               "--format {}: expected png, svg or both", a.format);
  std::vector<LoadedReport> reports;
  for (const std::string& path : a.reports)
    reports.push_back(load_report(path));  // all read before any drawing
  assign_labels(reports);
  data::prepare_output_directory(a.out, "--out");

  profile::LineChart loss{
      .title = "Loss per epoch", .x_label = "epoch", .y_label = "loss", .series = {}, .integer_x = true};
  profile::LineChart accuracy{.title = "Test accuracy per epoch",
                              .x_label = "epoch",
                              .y_label = "test accuracy (%)",
                              .series = {},
                              .integer_x = true};
  for (const LoadedReport& r : reports) {
    loss.series.push_back(
        epoch_series(r.label + " train", r.report, [](const train::EpochStats& e) { return e.train_loss; }));
    loss.series.push_back(
        epoch_series(r.label + " test", r.report, [](const train::EpochStats& e) { return e.test.loss; }));
    accuracy.series.push_back(
        epoch_series(r.label, r.report, [](const train::EpochStats& e) { return 100.0 * e.test.accuracy; }));
  }
  std::vector<std::string> extensions;
  if (a.format != "svg") extensions.push_back(".png");
  if (a.format != "png") extensions.push_back(".svg");
  for (const std::string& ext : extensions) {
    for (const auto& [chart, name] : {std::pair{&loss, "loss"}, std::pair{&accuracy, "accuracy"}}) {
      const fs::path out = fs::path(a.out) / (std::string(name) + ext);
      profile::plot_lines(*chart, out);
      std::printf("wrote %s\n", out.c_str());
    }
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    SPRINT_THROW(IoError, "cannot write to standard output: {}", std::strerror(errno));
  return 0;
}

}  // namespace sprint::cli
