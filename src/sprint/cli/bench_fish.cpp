// bench_fish.cpp: `sprint bench fish --out DIR`, FISH's two comparisons (seed 004; the paper's Tables 3 and 4), every
// number from child runs of sprint itself:
//   masks: `sprint fisher` saves the initial weights and the dense mask, then per keep ratio a FISH mask (the
//     empirical Fisher over N augmented examples of those weights) and a random one;
//   Table 4 (small checkpoints): one process trains only each mask's entries (true freezing) and saves the small
//     checkpoint; test accuracy and its size against the full checkpoint's;
//   Table 3 (distributed): 2 ranks of local SGD under mpiexec, each on the whole training set, the first epochs
//     dense, then the masked entries alone, merged every M optimizer steps; test accuracy and the bytes each rank
//     sent against a dense merge's.
// DIR/RESULTS.md holds both tables, each row's command, and the paper's two claims checked on these runs;
// accuracy.png (test accuracy against the keep ratio, per table) and bytes.png (bytes sent per rank against the
// keep ratio) beside it. Without MPI (a build without it, or no mpiexec), Table 3 says so and is empty.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sprint/cli/bench_plan.h"
#include "sprint/cli/commands.h"
#include "sprint/core/error.h"
#include "sprint/data/file_io.h"
#include "sprint/data/output_file.h"
#include "sprint/data/process.h"
#include "sprint/dist/process_group.h"
#include "sprint/profile/plot.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/progress.h"

namespace sprint::cli {
namespace {
namespace fs = std::filesystem;

/// The runs' recipe. The paper: ResNet-34 on all of CIFAR-10, Table 4 100 epochs (Fisher over 1,024 examples),
/// Table 3 2 workers x 50 epochs, 5 of them dense (Fisher over 256), the cifar10-fast schedule (batch 512, peak
/// at epoch 5); merge_steps 500 is the setting in which the paper's mask, computed on the server after the dense
/// epochs, is the initial weights' (no merge has happened by then), as here.
struct FishSetup {
  std::string model = "resnet34", dataset = "cifar10";
  std::optional<int64_t> limit_train, limit_test;
  int64_t batch = 512;
  double peak_lr = 0.08;
  double t4_epochs = 100, t3_epochs = 50, dense_epochs = 5;
  int64_t merge_every = 500;
  int64_t t4_samples = 1024, t3_samples = 256;
  std::vector<double> keeps = {0.005, 0.02, 0.1};
  std::string device = "cpu";  ///< every child's (Table 3's ranks: each its machine's GPU of its local rank)
};

FishSetup fish_setup(const BenchArgs& a) {
  FishSetup s;
  if (a.quick) {  // minutes on two CPU cores: the small CNN on a slice, 2 epochs (the first dense for Table 3)
    s.model = "cnn";
    s.limit_train = 1024;
    s.limit_test = 512;
    s.batch = 64;
    s.peak_lr = 0.05;
    s.t4_epochs = s.t3_epochs = 2;
    s.dense_epochs = 1;
    s.merge_every = 4;
    s.t4_samples = s.t3_samples = 64;
  }
  if (a.model) s.model = *a.model;
  if (a.dataset) s.dataset = *a.dataset;
  if (a.limit_train) s.limit_train = a.limit_train;
  if (a.limit_test) s.limit_test = a.limit_test;
  if (a.peak_lr) s.peak_lr = *a.peak_lr;
  if (a.epochs) {
    s.t4_epochs = s.t3_epochs = *a.epochs;
    s.dense_epochs = std::max(1.0, std::round(*a.epochs / 10.0));  // the paper's 5 of 50
  }
  if (a.merge_every) s.merge_every = *a.merge_every;
  if (a.batch_size) s.batch = *a.batch_size;
  if (a.fisher_samples) s.t4_samples = s.t3_samples = *a.fisher_samples;
  if (!a.keeps.empty()) s.keeps = a.keeps;
  SPRINT_CHECK(a.repeats.value_or(1) == 1, "sprint bench fish runs every configuration once (one seed, as the "
                                            "paper's tables); --repeats does not apply");
  SPRINT_CHECK(s.t3_epochs > s.dense_epochs, "sprint bench fish: --epochs {} leaves no masked epoch after the {} dense one(s) of Table 3",
               s.t3_epochs, s.dense_epochs);
  return s;
}

std::string number(double v) { return fmt::format("{:g}", v); }

std::vector<std::string> augment_args() { return {"--crop-pad", "4", "--flip", "random", "--cutout", "8"}; }

/// `sprint train` arguments of the recipe (SGD with Nesterov momentum, weight decay 5e-4, lr 0 -> peak at 1/5 of
/// the run (the paper: epoch 5 of 24) -> 0, the cifar10-fast augmentation).
std::vector<std::string> recipe_args(const FishSetup& s, double epochs) {
  std::vector<std::string> v = {"--model", s.model, "--dataset", s.dataset, "--epochs", number(epochs),
                                "--batch-size", std::to_string(s.batch), "--optimizer", "sgd", "--momentum", "0.9",
                                "--nesterov", "--weight-decay", "5e-4", "--lr", number(s.peak_lr), "--schedule",
                                "piecewise", "--lr-knots",
                                fmt::format("0:0,{}:1x,{}:0", number(epochs / 5.0), number(epochs))};
  for (const std::string& x : augment_args()) v.push_back(x);
  if (s.limit_train) v.insert(v.end(), {"--limit-train", std::to_string(*s.limit_train)});
  if (s.limit_test) v.insert(v.end(), {"--limit-test", std::to_string(*s.limit_test)});
  return v;
}

struct Row {
  std::string table;   ///< "small-checkpoints" | "distributed"
  std::string method;  ///< dense | fisher | random
  double keep = 1.0;
  std::string command;
  nlohmann::json report;  ///< the run's --report
  double accuracy() const { return report.at("final").at("test_accuracy").get<double>(); }
  const nlohmann::json& sparse() const { return report.at("sparse"); }
};

/// The command line as RESULTS.md shows it: this program as `sprint`.
std::string words(const std::vector<std::string>& argv, const std::string& exe) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + (a == exe ? std::string("sprint") : a);
  return out;
}

class FishBench {
 public:
  FishBench(const BenchArgs& a, FishSetup s, fs::path out)
      : a_(a), s_(std::move(s)), out_(std::move(out)), exe_(fs::read_symlink("/proc/self/exe").string()),
        progress_(progress_enabled(a.progress)) {}

  int run();

 private:
  /// Runs one child (argv[0] on PATH or sprint itself), its output in DIR/runs/<name>.log.
  void child(const std::string& name, std::vector<std::string> argv) {
    if (a_.data_dir) argv.insert(argv.end(), {"--data-dir", *a_.data_dir});
    argv.insert(argv.end(), {"--device", s_.device});
    const auto t0 = std::chrono::steady_clock::now();
    data::run_program({.argv = argv,
                       .cwd = fs::current_path(),
                       .log_path = out_ / "runs" / (name + ".log"),
                       .while_running = [&] {
                         progress_.task(done_, fmt::format("{}: {:.0f} s", name,
                                                           std::chrono::duration<double>(
                                                               std::chrono::steady_clock::now() - t0)
                                                               .count()));
                       }});
    ++done_;
  }
  std::string mask_path(const std::string& method, double keep, int64_t samples) const {
    if (method == "dense") return (out_ / "masks" / "dense.safetensors").string();
    return (out_ / "masks" / fmt::format("{}-{}-n{}.safetensors", method, number(keep), samples)).string();
  }
  void make_masks(int64_t samples);
  void train_row(const std::string& table, const std::string& method, double keep);
  std::string results() const;
  std::vector<std::string> plots() const;

  const BenchArgs& a_;
  FishSetup s_;
  fs::path out_;
  std::string exe_;
  train::ProgressLine progress_;
  int done_ = 0;
  bool mpi_ = false;
  std::string no_mpi_;
  std::vector<Row> rows_;
};

void FishBench::make_masks(int64_t samples) {
  for (double keep : s_.keeps) {
    if (fs::exists(mask_path("fisher", keep, samples))) continue;  // both tables sum over as many samples
    std::vector<std::string> f = {exe_, "fisher", "--model", s_.model, "--dataset", s_.dataset, "--checkpoint",
                                  (out_ / "masks" / "init.safetensors").string(), "--samples", std::to_string(samples),
                                  "--keep", number(keep), "--out", mask_path("fisher", keep, samples)};
    for (const std::string& x : augment_args()) f.push_back(x);
    if (s_.limit_train) f.insert(f.end(), {"--limit-train", std::to_string(*s_.limit_train)});
    child(fmt::format("fisher-{}-n{}", number(keep), samples), f);
    child(fmt::format("random-{}", number(keep)),
          {exe_, "fisher", "--model", s_.model, "--dataset", s_.dataset, "--checkpoint",
           (out_ / "masks" / "init.safetensors").string(), "--method", "random", "--keep", number(keep), "--out",
           mask_path("random", keep, samples)});
  }
}

void FishBench::train_row(const std::string& table, const std::string& method, double keep) {
  const bool t3 = table == "distributed";
  const int64_t samples = t3 ? s_.t3_samples : s_.t4_samples;
  const std::string name = fmt::format("{}-{}-{}", t3 ? "t3" : "t4", method, number(keep));
  const fs::path report = out_ / "runs" / (name + ".json");
  std::vector<std::string> argv;
  if (t3) argv = {"mpiexec", "-np", "2", "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"};
  argv.insert(argv.end(), {exe_, "train"});
  for (const std::string& x : recipe_args(s_, t3 ? s_.t3_epochs : s_.t4_epochs)) argv.push_back(x);
  argv.insert(argv.end(), {"--init", (out_ / "masks" / "init.safetensors").string(), "--mask",
                           mask_path(method, keep, samples), "--report", report.string(), "--progress", "off"});
  if (t3) {
    argv.insert(argv.end(), {"--threads", "1", "--distributed", "--merge-every", std::to_string(s_.merge_every),
                             "--mask-after-epochs", number(s_.dense_epochs)});
  } else {
    argv.insert(argv.end(), {"--save-sparse", (out_ / "runs" / (name + ".sparse.safetensors")).string()});
  }
  child(name, argv);
  const std::vector<uint8_t> bytes = data::read_file_bytes(report);
  rows_.push_back({table, method, keep, words(argv, exe_), nlohmann::json::parse(bytes.begin(), bytes.end())});
  const Row& r = rows_.back();
  progress_.end();
  std::printf("[%d] %s %s keep %s: test accuracy %.2f%%\n", done_, table.c_str(), method.c_str(),
              number(keep).c_str(), 100.0 * r.accuracy());
  std::fflush(stdout);
}

int FishBench::run() {
  fs::create_directories(out_ / "runs");
  fs::create_directories(out_ / "masks");
  mpi_ = dist::mpi_built();
  if (!mpi_) no_mpi_ = "this sprint was built without MPI";
  const int trainings = 2 * (1 + 2 * static_cast<int>(s_.keeps.size()));
  progress_.begin("bench fish", 1 + 2 * 2 * static_cast<int>(s_.keeps.size()) + trainings);
  std::vector<std::string> dense = {exe_, "fisher", "--model", s_.model, "--dataset", s_.dataset, "--method",
                                    "dense", "--out", mask_path("dense", 1.0, 0), "--save-init",
                                    (out_ / "masks" / "init.safetensors").string()};
  child("dense-and-init", dense);
  make_masks(s_.t4_samples);
  make_masks(s_.t3_samples);
  for (const std::string& table : {std::string("small-checkpoints"), std::string("distributed")}) {
    if (table == "distributed" && !mpi_) continue;
    for (const std::string& method : {std::string("dense"), std::string("fisher"), std::string("random")}) {
      if (method == "dense") {
        train_row(table, method, 1.0);
        continue;
      }
      for (double keep : s_.keeps) {
        try {
          train_row(table, method, keep);
        } catch (const IoError& e) {
          if (table != "distributed" || std::string(e.what()).find("mpiexec not found") == std::string::npos) throw;
          mpi_ = false;
          no_mpi_ = "mpiexec was not found on PATH (apt-get install openmpi-bin)";
          break;
        }
      }
      if (!mpi_ && table == "distributed") break;
    }
  }
  const std::vector<std::string> notes = plots();
  std::string md = results();
  for (const std::string& n : notes) md += "\n" + n + "\n";
  data::write_output_text(out_ / "RESULTS.md", md);
  std::printf("%s", md.c_str());
  return 0;
}

std::string FishBench::results() const {
  std::string command = "sprint bench";
  for (const std::string& arg : a_.given) command += " " + arg;
  std::string md = fmt::format(
      "# sprint bench fish: FISH masks against random masks and dense training (seed 004, Tables 3 and 4)\n\n"
      "{} on {}{}, one seed. Masks: computed once on the initial weights (FISH: the empirical Fisher over {} "
      "augmented examples for Table 4, {} for Table 3, batch 1; random: uniform scores; both keep the "
      "classifier whole), entries outside a mask frozen bit for bit. Recipe: SGD, Nesterov momentum 0.9, weight "
      "decay 5e-4, batch {}, lr 0 -> {} at a fifth of the run -> 0, crop (pad 4), flip, cutout 8. Table 4: one "
      "process, {} epochs. Table 3: 2 ranks of local SGD on the whole training set each, {} dense epoch(s), merges "
      "every {} optimizer steps, {} epochs. Device: {}.\n\nCommand: `{}`\n\nMachine:\n{}\n",
      s_.model, s_.dataset,
      s_.limit_train ? fmt::format(" (the first {} training images)", *s_.limit_train) : std::string(),
      s_.t4_samples, s_.t3_samples, s_.batch, number(s_.peak_lr), number(s_.t4_epochs), number(s_.dense_epochs),
      s_.merge_every, number(s_.t3_epochs), s_.device, command, bench_machine_text(cuda_device_count() > 0));
  auto pct = [](double v) { return fmt::format("{:.2f}%", 100.0 * v); };
  md += "## Small checkpoints (Table 4's setup)\n\n| mask | keep | test accuracy | kept entries | small checkpoint "
        "| full checkpoint | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& r : rows_) {
    if (r.table != "small-checkpoints") continue;
    const nlohmann::json& c = r.sparse().at("small_checkpoint");
    const double small = c.at("bytes").get<double>(), full = c.at("full_bytes").get<double>();
    md += fmt::format("| {} | {} | {} | {} | {:.0f} B | {:.0f} B | {:.2f}% |\n", r.method, number(r.keep),
                      pct(r.accuracy()), r.sparse().at("kept").get<int64_t>(), small, full, 100.0 * small / full);
  }
  md += "\n## Distributed sparse merges (Table 3's setup)\n\n";
  if (!mpi_) {
    md += "Not run: " + no_mpi_ + ".\n";
  } else {
    md += "| mask | keep | test accuracy | merges | bytes sent per rank | of which masked merges | dense bytes for "
          "those merges | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const Row& r : rows_) {
      if (r.table != "distributed") continue;
      const nlohmann::json& m = r.sparse().at("local_sgd");
      const double masked = m.at("masked_bytes_sent").get<double>(),
                   dense = m.at("dense_bytes_for_the_masked_merges").get<double>();
      md += fmt::format("| {} | {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | {} |\n", r.method, number(r.keep),
                        pct(r.accuracy()), m.at("merges").get<int64_t>(), m.at("bytes_sent").get<double>(), masked,
                        dense, dense > 0 ? fmt::format("{:.2f}%", 100.0 * masked / dense) : std::string("-"));
    }
  }
  md += "\n## The paper's claims on these runs\n\n";
  for (const std::string table : {"small-checkpoints", "distributed"}) {
    std::optional<double> dense;
    std::map<double, double> fisher, random;
    for (const Row& r : rows_) {
      if (r.table != table) continue;
      if (r.method == "dense") dense = r.accuracy();
      if (r.method == "fisher") fisher[r.keep] = r.accuracy();
      if (r.method == "random") random[r.keep] = r.accuracy();
    }
    if (!dense) continue;
    std::string beats;
    for (const auto& [keep, f] : fisher) {
      const auto q = random.find(keep);
      if (q == random.end()) continue;
      beats += (beats.empty() ? "" : "; ") +
               (f > q->second ? fmt::format("holds at {} ({} against {})", number(keep), pct(f), pct(q->second))
                              : fmt::format("does NOT hold at {} (FISH {}, random {})", number(keep), pct(f),
                                            pct(q->second)));
    }
    md += fmt::format("- {}: FISH beats the random mask: {}.", table, beats.empty() ? "no pair ran" : beats);
    if (const auto ten = fisher.find(0.1); ten != fisher.end()) {
      const double gap = 100.0 * (*dense - ten->second);
      md += fmt::format(" FISH at 10% is {:.2f} points below dense (claim: within 1 point: {}).", gap,
                        gap <= 1.0 ? "holds" : "does NOT hold");
    }
    md += "\n";
  }
  md += "\nEvery row's command:\n\n";
  for (const Row& r : rows_) md += fmt::format("- {} / {} / {}: `{}`\n", r.table, r.method, number(r.keep), r.command);
  md += "\nThe paper's own numbers are not reproduced here; at this scale the comparison is of the masks, not of "
        "the paper's accuracy.\n";
  return md;
}

std::vector<std::string> FishBench::plots() const {
  profile::LineChart accuracy{.title = "FISH: test accuracy against the keep ratio", .x_label = "keep ratio (%)",
                              .y_label = "test accuracy (%)", .series = {}};
  profile::LineChart bytes{.title = "FISH: bytes each rank sent in the masked merges", .x_label = "keep ratio (%)",
                           .y_label = "MB sent per rank", .series = {}};
  const double lo = 100.0 * *std::min_element(s_.keeps.begin(), s_.keeps.end());
  const double hi = 100.0 * *std::max_element(s_.keeps.begin(), s_.keeps.end());
  for (const std::string table : {"small-checkpoints", "distributed"}) {
    const std::string tag = table == "small-checkpoints" ? "Table 4" : "Table 3";
    for (const std::string method : {"fisher", "random", "dense"}) {
      profile::Series acc{.name = tag + ", " + method, .x = {}, .y = {}};
      profile::Series sent{.name = method == "dense" ? "a dense merge's" : method, .x = {}, .y = {}};
      for (const Row& r : rows_) {
        if (r.table != table || r.method != method) continue;
        if (method == "dense") {  // a horizontal line across the keep ratios
          acc.x = {lo, hi};
          acc.y = {100.0 * r.accuracy(), 100.0 * r.accuracy()};
          continue;
        }
        acc.x.push_back(100.0 * r.keep);
        acc.y.push_back(100.0 * r.accuracy());
        if (table == "distributed") {
          const nlohmann::json& m = r.sparse().at("local_sgd");
          sent.x.push_back(100.0 * r.keep);
          sent.y.push_back(m.at("masked_bytes_sent").get<double>() / 1e6);
        }
      }
      if (!acc.x.empty()) accuracy.series.push_back(acc);
      if (!sent.x.empty()) bytes.series.push_back(sent);
    }
  }
  // The dense merge's bytes for as many merges, at each keep ratio (from the FISH rows' reports).
  profile::Series dense{.name = "dense merges, as many", .x = {}, .y = {}};
  for (const Row& r : rows_)
    if (r.table == "distributed" && r.method == "fisher") {
      dense.x.push_back(100.0 * r.keep);
      dense.y.push_back(r.sparse().at("local_sgd").at("dense_bytes_for_the_masked_merges").get<double>() / 1e6);
    }
  if (!dense.x.empty()) bytes.series.push_back(dense);
  try {
    if (accuracy.series.empty()) return {"No run finished: no plots."};
    profile::plot_lines(accuracy, out_ / "accuracy.png");
    if (!bytes.series.empty()) profile::plot_lines(bytes, out_ / "bytes.png");
  } catch (const IoError& e) {
    return {fmt::format("The plots were not drawn: {}", e.what())};
  }
  return {bytes.series.empty() ? "Plot: `accuracy.png` (test accuracy against the keep ratio, both tables)."
                               : "Plots: `accuracy.png` (test accuracy against the keep ratio, both tables) and "
                                 "`bytes.png` (MB each rank sent in the masked merges, against a dense merge's)."};
}

}  // namespace

int run_bench_fish(const BenchArgs& a) {
  SPRINT_CHECK(a.out.has_value(), "sprint bench needs --out DIR for RESULTS.md and its plots");
  FishSetup setup = fish_setup(a);
  setup.device = bench_on_cuda(a.device) ? "cuda" : "cpu";
  const fs::path out = *a.out;
  data::prepare_output_directory(out, "--out");
  return FishBench(a, std::move(setup), out).run();
}

}  // namespace sprint::cli
