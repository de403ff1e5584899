// report.h: what a training run reports: the per-epoch table printed by `sprint train` and the --report JSON
// {"model","dataset","device","status","requested_epochs","config":{option: value},"epochs":[{"epoch","train_loss","train_samples",
// "test_loss","test_accuracy","train_seconds","samples_per_second"[,"loss_scale","skipped_steps"]}],"final":{"test_accuracy",
// "train_seconds_total"[, "tta_level", "tta_test_accuracy", "tta_test_loss"]}} (accuracy as a fraction in [0, 1];
// config: every setting the run resolved, as text; the tta_ keys when a final evaluation with test-time
// augmentation ran); plus "profile" (profile::profile_json's object) when the run was profiled, and "pipeline"
// (pipeline_json's object) when it trained through a pipeline, "distributed" under data parallelism and "sparse"
// when it trained on a mask.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sprint/train/trainer.h"

namespace sprint::train {

struct RunReport {
  std::string model;
  std::string dataset;
  std::string device;
  std::vector<EpochStats> epochs;
  /// The run's resolved settings (command line, recipe and defaults), in option order.
  std::vector<std::pair<std::string, std::string>> config;
  /// The final evaluation with test-time augmentation (--tta 1|2), when it ran.
  std::optional<EvalStats> tta;
  int tta_level = 0;
  /// How the run ended: "running" (while it is), "completed", "interrupted" (SIGINT/SIGTERM) or "diverged"
  /// (non-finite loss).
  std::string status = "running";
  double requested_epochs = 0;  ///< --epochs as given
  /// The profile of the run (profile::profile_json), or empty: not profiled.
  std::string profile;
  /// The pipeline's stages (pipeline_json), or empty: no pipeline.
  std::string pipeline;
  /// Data parallelism (distributed_json), or empty: one process.
  std::string distributed;
  /// Sparse training (a JSON object: the mask, its mode, merges and the small checkpoint), or empty: dense.
  std::string sparse;
};

/// What a data-parallel run reports: one rank's traffic (rank 0's) and how much of its gradient all-reduce
/// overlapped backward.
struct DistributedReport {
  int ranks = 1;
  std::string backend;
  int64_t optimizer_steps = 0;
  int64_t collectives = 0;
  int64_t bytes = 0;
  bool overlap = false;                          // buckets may start during backward
  int64_t buckets_reduced = 0;                   // gradient buckets all-reduced, over all steps
  int64_t buckets_started_during_backward = 0;   // of those, started before backward ended
  bool sync_batch_norm = false;                  // BatchNorm statistics over every rank's batch
};

/// {"ranks","backend","optimizer_steps","collectives","bytes","bytes_per_step","overlap","buckets_reduced",
/// "buckets_started_during_backward","sync_batch_norm"}
std::string distributed_json(const DistributedReport& d);

/// {"stages","weight_policy","micro_batches","boundaries","wall_seconds","overlap","per_stage":[{"stage","layers","layer_names","device","updates",
/// "mean_staleness","max_staleness","version_difference_forward","version_difference_backward","prediction_error",
/// "prediction_error_vs_unpredicted","prediction_samples","busy_seconds","idle_seconds"}]}: what each stage of a
/// pipelined run did (the version differences and prediction errors are SpecTrain's, 0 under other policies);
/// overlap = the stages' busy seconds summed over the epochs' wall time (1: one stage at a time; up to K).
/// The stages' busy seconds summed over `wall_seconds` (0 when no wall time).
double pipeline_overlap(const std::vector<StageReport>& stages, double wall_seconds);
std::string pipeline_json(const PipelineOptions& options, const std::string& boundaries,
                          const std::vector<StageReport>& stages, double wall_seconds);

/// The JSON document described above, pretty-printed.
std::string report_json(const RunReport& report);
/// Writes report_json() with data::write_output_file (atomic replacement; links followed; pipes and devices
/// streamed); throws IoError naming the path on failure.
void write_report(const std::filesystem::path& path, const RunReport& report);

/// The epochs as compact JSON (the report's rows plus test_samples) and back, for checkpoints: a resumed run
/// reports the epochs before the kill too. parse_epochs_json throws FormatError on malformed text.
std::string epochs_json(const std::vector<EpochStats>& epochs);
std::vector<EpochStats> parse_epochs_json(const std::string& text);

/// A --report document read back (sprint plot, sprint bench): model, dataset, device, status, requested_epochs,
/// config, the epochs (test_samples 0: the report does not keep it), the TTA result and the profile when there are.
/// Missing optional keys keep RunReport's defaults; `epochs` must be there. Throws FormatError naming `source` when
/// the text is not JSON or not a report.
RunReport parse_report_json(const std::string& text, const std::string& source);

std::string epoch_table_header();
std::string epoch_table_row(const EpochStats& stats);

}  // namespace sprint::train
