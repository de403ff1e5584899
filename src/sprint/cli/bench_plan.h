// bench_plan.h: the comparisons `sprint bench NAME` runs, one per seed project: each a list of
// configurations, every one a `sprint train` command line (recipe plus options) that the bench runs as a
// child process. A configuration that needs a device this machine lacks is kept in the plan and reported as
// skipped, with why.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sprint::cli {

struct BenchConfig {
  std::string label;              ///< a row of the results table ("+ AdamW")
  std::vector<std::string> args;  ///< `sprint train` arguments (no --report, --progress); "{out}" is --out
  /// Added when the row runs on CUDA (mixed precision, which on the CPU only emulates half kernels, slower).
  std::vector<std::string> cuda_args = {};
  bool needs_cuda = false;  ///< skipped without a CUDA device
  std::string note = {};    ///< what the row adds, for RESULTS.md
  /// Rows of one experiment of a plan with several (spectrain): the speed-up is against the group's own baseline
  /// row, labelled "<group>: <BenchPlan::baseline>", and the accuracy and loss plots are drawn per group.
  std::string group = {};
  /// Pipeline rows (spectrain): the weight policy ("plain" for unpipelined training) and the pipeline depth (0 for
  /// plain), which RESULTS.md's check of SpecTrain's claim pairs up per group and depth.
  std::string arm = {};
  int stages = 0;
};

struct BenchPlan {
  std::string name;         ///< "optimizations"
  std::string title;        ///< the results' heading
  std::string description;  ///< a paragraph: what is compared, which seed it reproduces
  std::vector<BenchConfig> configs;
  /// Speed-ups are against this row; "share" rows (an ablation adding one technique at a time) also get each
  /// step's share of the total speed-up.
  std::string baseline;
  bool ablation = false;
  /// The configurations name their device (cpu-vs-gpu); otherwise the bench runs them on its --device.
  bool own_devices = false;
  /// Repeat r (1-based) runs with --seed r - 1: accuracy over seeds (speedrun); otherwise every repeat has
  /// the configuration's own seed (time spread of one run).
  bool vary_seed = false;
  /// The first two configurations are the same profiled steps on two sets of kernels: RESULTS.md compares
  /// their per-op times (the --report's "profile" rows summed by layer type and phase) and lists the first
  /// one's per-layer profile and memory.
  bool per_op = false;
  /// The rows train through a pipeline (most of them): RESULTS.md adds each run's measured staleness per stage
  /// and SpecTrain's prediction error from the report's "pipeline" object.
  bool pipeline = false;
};

/// Options that shrink every run (smoke runs, CI): applied to every configuration when set.
struct BenchSize {
  bool quick = false;  ///< the documented small variant (a subset, fewer epochs)
  std::optional<double> epochs;
  std::optional<int64_t> limit_train, limit_test;
  std::optional<std::string> dataset;  ///< e.g. fashion-mnist for cpu-vs-gpu where MNIST is not installed
  /// spectrain: the pipeline depths, one set of pipelined rows each (empty: 2 stages, one per core here).
  std::vector<int> stages = {};
};

/// The names `sprint bench` knows, with one line each.
std::vector<std::pair<std::string, std::string>> bench_names();
/// Throws InvalidArgument for an unknown name (listing the known ones).
BenchPlan bench_plan(const std::string& name, const BenchSize& size);

/// The "Machine:" lines of a RESULTS.md: CPU and its ISA, CUDA devices, sprint's build (bench_command.cpp).
std::string bench_machine_text(bool has_cuda);
/// Whether a bench's runs go to CUDA for its --device: `cuda` (InvalidArgument without a CUDA device), or `auto`
/// on a machine with one (bench_command.cpp).
bool bench_on_cuda(const std::string& device);

}  // namespace sprint::cli
