// bench_command.cpp: `sprint bench NAME --out DIR`: runs every configuration of a comparison (bench_plan.h)
// as a `sprint train` child process, --repeats times each, reads their --report files, and writes
// DIR/RESULTS.md (the table of medians and spreads, each row's exact command, the machine and library
// versions) with its plots (time per configuration, test accuracy and training loss per epoch). Every number
// comes from these runs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/cli/bench_plan.h"
#include "sprint/cli/commands.h"
#include "sprint/config.h"
#include "sprint/core/allocator.h"
#include "sprint/core/error.h"
#include "sprint/data/file_io.h"
#include "sprint/data/output_file.h"
#include "sprint/data/process.h"
#include "sprint/profile/plot.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/progress.h"
#include "sprint/train/report.h"

namespace sprint::cli {
namespace {
namespace fs = std::filesystem;

struct RunResult {
  double seconds = 0.0;   ///< the training loops' time (the report's train_seconds_total)
  double accuracy = 0.0;  ///< final test accuracy, a fraction
  std::vector<train::EpochStats> epochs;
  nlohmann::json profile;  ///< the report's "profile" (--profile runs), else null
  nlohmann::json pipeline;  ///< the report's "pipeline" (--pipeline runs), else null
};

struct Row {
  const BenchConfig* config = nullptr;
  std::vector<std::string> command;  ///< the `sprint train` arguments it ran with
  std::vector<RunResult> runs;
  std::string skipped;  ///< why it did not run, or ""
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::vector<double> seconds_of(const Row& r) {
  std::vector<double> out;
  for (const RunResult& x : r.runs) out.push_back(x.seconds);
  return out;
}

std::vector<double> accuracies_of(const Row& r) {
  std::vector<double> out;
  for (const RunResult& x : r.runs) out.push_back(x.accuracy);
  return out;
}

std::string slug(const std::string& label) {
  std::string out;
  for (char c : label)
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-')
      out += '-';
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "run" : out;
}

std::string shell_words(const std::vector<std::string>& args) {
  std::string out = "sprint train";
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_of(" \t'\"\\$`") == std::string::npos;
    out += " " + (plain ? a : "'" + a + "'");
  }
  return out;
}

RunResult read_run(const fs::path& report) {
  const std::vector<uint8_t> bytes = data::read_file_bytes(report);
  const train::RunReport r =
      train::parse_report_json(std::string(bytes.begin(), bytes.end()), report.string());
  SPRINT_CHECK(!r.epochs.empty(), "{} holds no epoch", report.string());
  RunResult out;
  for (const train::EpochStats& e : r.epochs) out.seconds += e.train_seconds;
  out.accuracy = r.tta ? r.tta->accuracy : r.epochs.back().test.accuracy;
  out.epochs = r.epochs;
  if (!r.profile.empty()) out.profile = nlohmann::json::parse(r.profile);
  if (!r.pipeline.empty()) out.pipeline = nlohmann::json::parse(r.pipeline);
  return out;
}

// The label of the row `r`'s speed-up is measured against: the plan's baseline, or its group's.
std::string baseline_label(const BenchPlan& plan, const BenchConfig& c) {
  return c.group.empty() ? plan.baseline : c.group + ": " + plan.baseline;
}

// "2 / 0": the first run's largest measured staleness per stage; "-" without a pipeline.
std::string staleness_cell(const Row& r) {
  const nlohmann::json& p = r.runs.front().pipeline;
  if (p.is_null()) return "-";
  std::string out;
  for (const nlohmann::json& s : p.at("per_stage"))
    out += (out.empty() ? "" : " / ") + std::to_string(s.at("max_staleness").get<int64_t>());
  return out;
}

// Where the stages were cut ("0-1 | 2-6", the layers of each stage), every distinct cut of the row's runs (cuts
// balanced by measured time can differ from run to run): "0-1 | 2-6 (runs 1, 3); 0-2 | 3-6 (run 2)"; "-" without
// a pipeline.
std::string cut_cell(const Row& r) {
  std::vector<std::pair<std::string, std::vector<size_t>>> cuts;
  for (size_t i = 0; i < r.runs.size(); ++i) {
    const nlohmann::json& p = r.runs[i].pipeline;
    if (p.is_null()) continue;
    const std::string cut = p.at("boundaries").get<std::string>();
    auto it = std::find_if(cuts.begin(), cuts.end(), [&](const auto& c) { return c.first == cut; });
    if (it == cuts.end()) it = cuts.insert(cuts.end(), {cut, {}});
    it->second.push_back(i + 1);
  }
  if (cuts.empty()) return "-";
  if (cuts.size() == 1) return cuts.front().first;
  std::string out;
  for (const auto& [cut, runs] : cuts)
    out += fmt::format("{}{} (run{} {})", out.empty() ? "" : "; ", cut, runs.size() > 1 ? "s" : "", fmt::join(runs, ", "));
  return out;
}

// SpecTrain's sampled prediction error ‖Ŵ - W‖ / ‖W‖ per stage that predicts (first run); "-" elsewhere.
std::string prediction_cell(const Row& r) {
  const nlohmann::json& p = r.runs.front().pipeline;
  if (p.is_null()) return "-";
  std::string out;
  for (const nlohmann::json& s : p.at("per_stage"))
    if (s.at("prediction_samples").get<int64_t>() > 0)
      out += (out.empty() ? "" : " / ") + fmt::format("{:.2g}", s.at("prediction_error").get<double>());
  return out.empty() ? "-" : out;
}

// The claim of seed 000's paper on every experiment and pipeline depth: SpecTrain's accuracy comes within 0.5
// points of sync's (GPipe, exact) where stale weights (`none`) lose more than that. Medians over the runs.
std::string spectrain_claims(const std::vector<Row>& rows) {
  auto accuracy = [&](const std::string& group, const std::string& arm, int stages) -> std::optional<double> {
    for (const Row& r : rows)
      if (r.config->group == group && r.config->arm == arm && r.config->stages == stages && !r.runs.empty())
        return 100.0 * median(accuracies_of(r));  // as the table shows it
    return std::nullopt;
  };
  std::string md =
      "\nSpecTrain's claim (its accuracy within 0.5 points of `sync` where `none` loses more than that), per "
      "experiment and depth, on the median test accuracies above:\n\n";
  for (const Row& r : rows) {
    const BenchConfig& c = *r.config;
    if (c.arm != "sync") continue;
    const std::string what = fmt::format("- {}, {} stages: ", c.group, c.stages);
    const auto sync = accuracy(c.group, "sync", c.stages), spec = accuracy(c.group, "spectrain", c.stages),
               none = accuracy(c.group, "none", c.stages);
    if (!sync || !spec || !none) {
      md += what + "not measured (a row did not run)\n";
      continue;
    }
    const std::string figures =
        fmt::format("spectrain {:.2f}%, sync {:.2f}%, none {:.2f}%", *spec, *sync, *none);
    if (*sync - *none <= 0.5)
      md += what + "not a test of the claim: stale weights cost at most 0.5 points here (" + figures + ")\n";
    else if (*spec >= *sync - 0.5)
      md += what + "holds (" + figures + ")\n";
    else
      md += what + fmt::format("does NOT hold: spectrain is {:.2f} points below sync ({})\n", *sync - *spec, figures);
  }
  return md;
}

}  // namespace

bool bench_on_cuda(const std::string& device) {
  const bool has_cuda = cuda_device_count() > 0;
  SPRINT_CHECK(device != "cuda" || has_cuda, "--device cuda: no CUDA device ({})", cuda_unavailable_reason());
  return device == "cuda" || (device == "auto" && has_cuda);
}

std::string bench_machine_text(bool has_cuda) {
  const cpu::CpuInfo cpu = cpu::cpu_info();
  std::string text = fmt::format("- CPU: {}, {} (oneDNN's ISA), {} cores available, {} hardware threads\n",
                                 cpu.description(), cpu.isa_name, cpu.available_cores, cpu.hardware_threads);
  text += has_cuda ? fmt::format("- CUDA devices: {}\n", cuda_device_count())
                   : fmt::format("- CUDA devices: none ({})\n", cuda_unavailable_reason());
  text += fmt::format("- sprint {} (CUDA backend {}), oneDNN {}\n", SPRINT_VERSION,
                      SPRINT_HAS_CUDA ? "built" : "not built", cpu.onednn_version);
  return text;
}

namespace {

std::string results_markdown(const BenchPlan& plan, const std::vector<Row>& rows, const std::string& command,
                             bool has_cuda, const std::vector<std::string>& plot_notes) {
  std::string md = fmt::format("# sprint bench {}: {}\n\n{}\n\nCommand: `{}`\n\nMachine:\n{}\n", plan.name,
                               plan.title, plan.description, command, bench_machine_text(has_cuda));
  auto base_of = [&](const BenchConfig& c) -> const Row* {
    for (const Row& r : rows)
      if (r.config->label == baseline_label(plan, c) && !r.runs.empty()) return &r;
    return nullptr;
  };
  const Row* base = plan.configs.empty() ? nullptr : base_of(plan.configs.front());
  const double base_time = base ? median(seconds_of(*base)) : 0.0;
  const Row* last = nullptr;
  for (const Row& r : rows)
    if (!r.runs.empty()) last = &r;
  const double total_gain = base && last ? std::log(base_time / median(seconds_of(*last))) : 0.0;
  // The shares only mean something when the whole ablation changed the time (here: by 5% or more).
  const bool shares = plan.ablation && std::abs(total_gain) >= std::log(1.05);
  auto line = [](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const std::string& c : cells) out += " " + c + " |";
    return out + "\n";
  };
  std::vector<std::string> head = {"configuration", "runs", "training time, median (s)",
                                   "spread (min to max)", "speed-up vs " + plan.baseline};
  if (plan.ablation) head.push_back("share of the speed-up");
  head.push_back("test accuracy, median");
  if (plan.pipeline)
    head.insert(head.end(), {"staleness per stage (max)", "prediction error per stage", "layers per stage"});
  md += line(head);
  std::vector<std::string> rule = {"---", "---:", "---:", "---", "---:"};
  if (plan.ablation) rule.push_back("---:");
  rule.push_back("---:");
  if (plan.pipeline) rule.insert(rule.end(), {"---:", "---:", "---"});
  md += line(rule);
  const Row* previous = nullptr;
  for (const Row& r : rows) {
    std::vector<std::string> cells = {r.config->label};
    if (!r.skipped.empty()) {
      cells.insert(cells.end(), {"0", "skipped: " + r.skipped});
      cells.resize(head.size());
      md += line(cells);
      continue;
    }
    const std::vector<double> t = seconds_of(r);
    const double med = median(t);
    cells.push_back(std::to_string(r.runs.size()));
    cells.push_back(fmt::format("{:.2f}", med));
    cells.push_back(fmt::format("{:.2f} to {:.2f}", *std::min_element(t.begin(), t.end()),
                                *std::max_element(t.begin(), t.end())));
    const Row* row_base = base_of(*r.config);
    cells.push_back(row_base ? fmt::format("{:.2f}x", median(seconds_of(*row_base)) / med) : std::string("-"));
    if (plan.ablation) {
      std::string share = "-";
      if (shares && previous) {
        const double pct = 100.0 * std::log(median(seconds_of(*previous)) / med) / total_gain;
        share = fmt::format("{:.0f}%", std::abs(pct) < 0.5 ? 0.0 : pct);  // no "-0%"
      }
      cells.push_back(share);
    }
    cells.push_back(fmt::format("{:.2f}%", 100.0 * median(accuracies_of(r))));
    if (plan.pipeline) cells.insert(cells.end(), {staleness_cell(r), prediction_cell(r), cut_cell(r)});
    md += line(cells);
    previous = &r;
  }
  if (plan.ablation && !shares)
    md += "\nThe last row's time is within 5% of the baseline's: no shares of a speed-up are given.\n";
  if (plan.vary_seed) md += "\nRun r uses `--seed r-1`: the spread is over seeds.\n";
  if (plan.pipeline)
    md +=
        "\nSpeed-ups are against each experiment's `plain` row. Staleness is the largest number of updates a "
        "stage applied between a batch's forward and its backward (first run); the prediction error is "
        "SpecTrain's sampled ‖Ŵ - W‖ / ‖W‖ against the weights it aimed at, per stage that predicts. The "
        "layers per stage are where each run cut the model (balanced by measured time, so runs can differ).\n";
  if (plan.pipeline) md += spectrain_claims(rows);
  md +=
      "\nTraining time is the training loops' wall time (the report's `train_seconds_total`: no evaluation, "
      "no "
      "start-up); accuracy is the final test accuracy (with test-time augmentation where the recipe has it).";
  if (plan.ablation)
    md +=
        " A row's share is log(time of the row above / its time) over log(baseline time / last row's time): "
        "rows that slow training down have negative shares.";
  md += "\n\nConfigurations (each row's exact command):\n\n";
  for (const Row& r : rows)
    md += fmt::format("- {}{}: `{}`\n", r.config->label,
                      r.config->note.empty() ? "" : " (" + r.config->note + ")", shell_words(r.command));
  md +=
      "\nPlots: `time.png` (median training time per configuration; the error bars span the runs' spread, "
      "centred on the median), `accuracy.png` "
      "and "
      "`loss.png` (test accuracy and training loss per epoch, first run of each configuration).\n";
  for (const std::string& note : plot_notes) md += "\n" + note + "\n";
  return md;
}

// Per (layer type, phase): self milliseconds per profiled step of a --profile run.
std::map<std::pair<std::string, std::string>, double> per_op_ms(const nlohmann::json& profile) {
  std::map<std::pair<std::string, std::string>, double> out;
  const double steps = std::max(1.0, profile.value("steps", 1.0));
  for (const nlohmann::json& row : profile.at("rows")) {
    std::string kind = row.value("kind", std::string());
    if (kind.empty())
      kind = row.at("name").get<std::string>();  // a region: data wait, loss, optimizer, [other]
    out[{kind, row.at("phase").get<std::string>()}] += row.at("self_ms").get<double>() / steps;
  }
  return out;
}

// The per-op comparison of the first two rows (fast, reference) and the first row's layer profile and memory.
std::string per_op_markdown(const std::vector<Row>& rows) {
  if (rows.size() < 2 || rows[0].runs.empty() || rows[1].runs.empty() || rows[0].runs[0].profile.is_null() ||
      rows[1].runs[0].profile.is_null())
    return "\nNo per-op comparison: a profiled run is missing.\n";
  const nlohmann::json& fast = rows[0].runs[0].profile;
  const double steps = std::max(1.0, fast.value("steps", 1.0));  // the profile's totals, per step below
  const auto a = per_op_ms(fast), b = per_op_ms(rows[1].runs[0].profile);
  std::vector<std::pair<std::pair<std::string, std::string>, double>> order(a.begin(), a.end());
  std::sort(order.begin(), order.end(), [&](const auto& x, const auto& y) {
    const auto bx = b.find(x.first), by = b.find(y.first);
    return (bx == b.end() ? 0.0 : bx->second) > (by == b.end() ? 0.0 : by->second);
  });
  std::string md = fmt::format(
      "\n## What the libraries buy, per op\n\nSelf time per profiled step (first run of each), summed over "
      "the layers "
      "of each type; the speed-up is {} over {}.\n\n| op | phase | {} (ms) | {} (ms) | speed-up "
      "|\n|---|---|---:|---:|---:|\n",
      rows[0].config->label, rows[1].config->label, rows[0].config->label, rows[1].config->label);
  double total_a = 0.0, total_b = 0.0;
  for (const auto& [key, fast_ms] : order) {
    const auto it = b.find(key);
    const double ref_ms = it == b.end() ? 0.0 : it->second;
    total_a += fast_ms;
    total_b += ref_ms;
    md += fmt::format(
        "| {} | {} | {:.2f} | {:.2f} | {} |\n", key.first, key.second, fast_ms, ref_ms,
        fast_ms > 0.0 && ref_ms > 0.0 ? fmt::format("{:.1f}x", ref_ms / fast_ms) : std::string("-"));
  }
  md += fmt::format("| whole step | | {:.2f} | {:.2f} | {:.1f}x |\n", total_a, total_b,
                    total_a > 0.0 ? total_b / total_a : 0.0);
  md += fmt::format(
      "\n## Layer profile ({})\n\nMean step {:.2f} ms ({} steps after {} warm-up): data wait {:.2f} ms, "
      "compute {:.2f} ms, optimizer {:.2f} ms.\n\n| layer | type | phase | calls | total (ms) | self (ms) | "
      "share | GFLOP/s |\n|---|---|---|---:|---:|---:|---:|---:|\n",
      rows[0].config->label, fast.value("mean_step_ms", 0.0), fast.value("steps", 0),
      fast.value("warmup_steps", 0), fast.value("data_wait_ms", 0.0) / steps,
      fast.value("compute_ms", 0.0) / steps, fast.value("optimizer_ms", 0.0) / steps);
  int shown = 0;
  for (const nlohmann::json& row : fast.at("rows")) {
    if (++shown > 20) break;
    const nlohmann::json& rate = row.at("flops_per_second");
    md += fmt::format("| {} | {} | {} | {} | {:.2f} | {:.2f} | {:.1f}% | {} |\n",
                      row.at("name").get<std::string>(), row.value("kind", std::string()),
                      row.at("phase").get<std::string>(), row.at("calls").get<int64_t>(),
                      row.at("total_ms").get<double>(), row.at("self_ms").get<double>(),
                      100.0 * row.at("share").get<double>(),
                      rate.is_null() ? std::string("-") : fmt::format("{:.1f}", rate.get<double>() / 1e9));
  }
  md += "\nMemory at the end of the profiled steps:\n\n";
  for (const nlohmann::json& m : fast.at("memory"))
    md += fmt::format("- {}: peak {} allocated, {} reserved\n", m.at("device").get<std::string>(),
                      format_bytes(m.at("peak_allocated_bytes").get<int64_t>()),
                      format_bytes(m.at("peak_reserved_bytes").get<int64_t>()));
  return md;
}

std::vector<std::string> draw_plots(const BenchPlan& plan, const std::vector<Row>& rows,
                                    const fs::path& out) {
  profile::BarChart bars{.title = plan.title, .y_label = "training time (s)", .bars = {}};
  // One accuracy and one loss chart per group of rows (one group, "", for most plans).
  std::vector<std::string> groups;
  for (const Row& r : rows)
    if (std::find(groups.begin(), groups.end(), r.config->group) == groups.end()) groups.push_back(r.config->group);
  std::vector<profile::LineChart> accuracies, losses;
  for (const std::string& g : groups) {
    const std::string title = g.empty() ? plan.title : g;
    accuracies.push_back({.title = title, .x_label = "epoch", .y_label = "test accuracy (%)", .series = {},
                          .integer_x = true});
    losses.push_back({.title = title, .x_label = "epoch", .y_label = "training loss", .series = {},
                      .integer_x = true});
  }
  for (const Row& r : rows) {
    const size_t g = static_cast<size_t>(std::find(groups.begin(), groups.end(), r.config->group) - groups.begin());
    profile::LineChart& accuracy = accuracies[g];
    profile::LineChart& loss = losses[g];
    if (r.runs.empty()) continue;
    const std::vector<double> t = seconds_of(r);
    const double lo = *std::min_element(t.begin(), t.end()), hi = *std::max_element(t.begin(), t.end());
    bars.bars.push_back({.label = r.config->label, .value = median(t), .error = 0.5 * (hi - lo)});
    profile::Series a{.name = r.config->label, .x = {}, .y = {}},
        l{.name = r.config->label, .x = {}, .y = {}};
    for (const train::EpochStats& e : r.runs.front().epochs) {
      a.x.push_back(static_cast<double>(e.epoch));
      a.y.push_back(100.0 * e.test.accuracy);
      l.x.push_back(static_cast<double>(e.epoch));
      l.y.push_back(e.train_loss);
    }
    accuracy.series.push_back(a);
    loss.series.push_back(l);
  }
  if (bars.bars.empty()) return {"No configuration ran: no plots."};
  std::vector<std::string> notes;
  try {
    profile::plot_bars(bars, out / "time.png");
    for (size_t g = 0; g < groups.size(); ++g) {
      if (accuracies[g].series.empty()) continue;
      const std::string suffix = groups[g].empty() ? "" : "-" + slug(groups[g]);
      profile::plot_lines(accuracies[g], out / ("accuracy" + suffix + ".png"));
      profile::plot_lines(losses[g], out / ("loss" + suffix + ".png"));
      if (!suffix.empty())
        notes.push_back(fmt::format("{}: `accuracy{}.png`, `loss{}.png`.", groups[g], suffix, suffix));
    }
  } catch (const IoError& e) {
    return {fmt::format("The plots were not drawn: {}", e.what())};
  }
  if (!notes.empty()) notes.insert(notes.begin(), "Accuracy and loss plots per experiment:");
  return notes;
}

}  // namespace

int run_bench(const BenchArgs& a) {
  if (a.list) {
    for (const auto& [name, what] : bench_names()) std::printf("  %-14s %s\n", name.c_str(), what.c_str());
    return 0;
  }
  SPRINT_CHECK(!a.name.empty(), "sprint bench needs a benchmark name (sprint bench --list shows them)");
  SPRINT_CHECK(a.stages.empty() || a.name == "spectrain", "--stages is an option of sprint bench spectrain");
  std::vector<int> depths = a.stages;
  std::sort(depths.begin(), depths.end());
  const auto twice = std::adjacent_find(depths.begin(), depths.end());
  SPRINT_CHECK(twice == depths.end(), "--stages: depth {} is given twice", twice == depths.end() ? 0 : *twice);
  if (a.name == "fish") return run_bench_fish(a);
  SPRINT_CHECK(!a.model && a.keeps.empty() && !a.merge_every && !a.fisher_samples && !a.peak_lr && !a.batch_size,
               "--model, --keeps, --merge-every, --fisher-samples, --batch-size and --peak-lr are options of sprint "
               "bench fish");
  SPRINT_CHECK(a.out.has_value(), "sprint bench needs --out DIR for RESULTS.md and its plots");
  const int repeats = a.repeats.value_or(a.quick ? 1 : 3);
  SPRINT_CHECK(repeats >= 1, "--repeats {}: expected a whole number >= 1", repeats);
  const BenchPlan plan = bench_plan(a.name, {.quick = a.quick,
                                             .epochs = a.epochs,
                                             .limit_train = a.limit_train,
                                             .limit_test = a.limit_test,
                                             .dataset = a.dataset,
                                             .stages = a.stages});
  const fs::path out = *a.out;
  data::prepare_output_directory(out, "--out");
  fs::create_directories(out / "runs");
  const bool has_cuda = cuda_device_count() > 0;
  const bool on_cuda = bench_on_cuda(a.device);
  const fs::path exe = fs::read_symlink("/proc/self/exe");

  std::vector<Row> rows;
  int done = 0;
  int planned = 0;
  for (const BenchConfig& c : plan.configs) planned += (c.needs_cuda && !has_cuda) ? 0 : repeats;
  // Every row's command first; then the repeats interleaved (each row once, then each again), so that a machine
  // slowing down or speeding up spreads over every row instead of biasing the ones run last.
  for (const BenchConfig& c : plan.configs) {
    Row row{.config = &c, .command = c.args, .runs = {}, .skipped = {}};
    const bool cuda_row = plan.own_devices ? c.needs_cuda : on_cuda;
    if (c.needs_cuda && !has_cuda) {
      row.skipped = "needs a CUDA device (" + cuda_unavailable_reason() + ")";
    } else if (c.needs_cuda && !cuda_row) {
      row.skipped = "needs CUDA (the bench runs on --device cpu)";
    } else {
      if (cuda_row) row.command.insert(row.command.end(), c.cuda_args.begin(), c.cuda_args.end());
      for (std::string& arg : row.command)  // "{out}/trace.json" -> the output directory's file
        if (const size_t at = arg.find("{out}"); at != std::string::npos) arg.replace(at, 5, out.string());
      if (!plan.own_devices) row.command.insert(row.command.end(), {"--device", on_cuda ? "cuda" : "cpu"});
      if (a.data_dir) row.command.insert(row.command.end(), {"--data-dir", *a.data_dir});
    }
    rows.push_back(std::move(row));
  }
  train::ProgressLine progress(progress_enabled(a.progress));
  progress.begin("bench " + a.name, planned);
  for (int r = 1; r <= repeats; ++r)
    for (Row& row : rows) {
      if (!row.skipped.empty()) continue;
      const BenchConfig& c = *row.config;
      const fs::path report = out / "runs" / fmt::format("{}-{}.json", slug(c.label), r);
      std::vector<std::string> argv = {exe.string(), "train"};
      argv.insert(argv.end(), row.command.begin(), row.command.end());
      argv.insert(argv.end(), {"--report", report.string(), "--progress", "off"});
      if (plan.vary_seed) argv.insert(argv.end(), {"--seed", std::to_string(r - 1)});
      const auto t0 = std::chrono::steady_clock::now();
      const auto show_running = [&] {
        progress.task(done, fmt::format("{}, run {}: {:.0f} s", c.label, r,
                                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
      };
      data::run_program({.argv = argv,
                         .cwd = fs::current_path(),
                         .log_path = report.string() + ".log",
                         .while_running = show_running});
      row.runs.push_back(read_run(report));
      progress.end();
      std::printf("[%d/%d] %s, run %d: %.2f s, test accuracy %.2f%%\n", ++done, planned, c.label.c_str(), r,
                  row.runs.back().seconds, 100.0 * row.runs.back().accuracy);
      std::fflush(stdout);
    }
  std::string command = "sprint bench";
  for (const std::string& arg : a.given) command += " " + arg;
  const std::vector<std::string> notes = draw_plots(plan, rows, out);
  std::string md = results_markdown(plan, rows, command, has_cuda, notes);
  if (plan.per_op) md += per_op_markdown(rows);
  data::write_output_text(out / "RESULTS.md", md);
  std::printf("%s", md.c_str());
  return 0;
}

}  // namespace sprint::cli
