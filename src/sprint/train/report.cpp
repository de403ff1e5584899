// report.cpp: epoch table formatting and the JSON report.
#include "sprint/train/report.h"

#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"

namespace sprint::train {

namespace {
nlohmann::ordered_json epoch_row(const EpochStats& e) {
  nlohmann::ordered_json row;
  row["epoch"] = e.epoch;
  row["train_loss"] = e.train_loss;
  row["train_samples"] = e.train_samples;
  row["test_loss"] = e.test.loss;
  row["test_accuracy"] = e.test.accuracy;
  row["train_seconds"] = e.train_seconds;
  row["samples_per_second"] = e.samples_per_second;
  if (e.loss_scale > 0.0) {  // dynamic loss scaling
    row["loss_scale"] = e.loss_scale;
    row["skipped_steps"] = e.skipped_steps;
  }
  return row;
}
}  // namespace

std::string epochs_json(const std::vector<EpochStats>& epochs) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const EpochStats& e : epochs) {
    nlohmann::ordered_json row = epoch_row(e);
    row["test_samples"] = e.test.samples;
    j.push_back(row);
  }
  return j.dump();
}

namespace {
// A number of a row; null (how nlohmann writes NaN and infinities) reads as NaN.
double number_at(const nlohmann::json& row, const char* key) {
  const nlohmann::json& v = row.at(key);
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}

// One row of epoch_row() (plus test_samples when `with_test_samples`); throws nlohmann's exceptions.
EpochStats epoch_from_json(const nlohmann::json& row, bool with_test_samples) {
  EpochStats e;
  e.epoch = row.at("epoch").get<int64_t>();
  e.train_loss = number_at(row, "train_loss");
  e.train_samples = row.at("train_samples").get<int64_t>();
  e.test.loss = number_at(row, "test_loss");
  e.test.accuracy = number_at(row, "test_accuracy");
  if (with_test_samples) e.test.samples = row.at("test_samples").get<int64_t>();
  e.train_seconds = number_at(row, "train_seconds");
  e.samples_per_second = number_at(row, "samples_per_second");
  if (row.contains("loss_scale")) {  // dynamic loss scaling
    e.loss_scale = number_at(row, "loss_scale");
    e.skipped_steps = row.at("skipped_steps").get<int64_t>();
  }
  return e;
}
}  // namespace

std::vector<EpochStats> parse_epochs_json(const std::string& text) {
  std::vector<EpochStats> out;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    SPRINT_CHECK(j.is_array(), "expected a JSON array of epochs");
    for (const nlohmann::json& row : j) out.push_back(epoch_from_json(row, true));
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "the saved epochs are not valid ({})", e.what());
  }
  return out;
}

RunReport parse_report_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "{}: not a JSON document ({})", source, e.what());
  }
  if (!j.is_object() || !j.contains("epochs") || !j["epochs"].is_array())
    SPRINT_THROW(FormatError, "{}: not a sprint train report (no \"epochs\" array)", source);
  RunReport r;
  try {
    r.model = j.value("model", std::string());
    r.dataset = j.value("dataset", std::string());
    r.device = j.value("device", std::string());
    r.status = j.value("status", r.status);
    r.requested_epochs = j.value("requested_epochs", 0.0);
    if (j.contains("config") && j["config"].is_object())
      for (const auto& [key, value] : j["config"].items())
        r.config.emplace_back(key, value.is_string() ? value.get<std::string>() : value.dump());
    for (const nlohmann::json& row : j["epochs"]) r.epochs.push_back(epoch_from_json(row, false));
    if (j.contains("final") && j["final"].contains("tta_test_accuracy")) {
      const nlohmann::json& f = j["final"];
      r.tta = EvalStats{};
      r.tta->accuracy = number_at(f, "tta_test_accuracy");
      r.tta->loss = f.contains("tta_test_loss") ? number_at(f, "tta_test_loss") : 0.0;
      r.tta_level = f.value("tta_level", 0);
    }
    if (j.contains("profile")) r.profile = j["profile"].dump();
    if (j.contains("pipeline")) r.pipeline = j["pipeline"].dump();
    if (j.contains("distributed")) r.distributed = j["distributed"].dump();
    if (j.contains("sparse")) r.sparse = j["sparse"].dump();
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "{}: not a valid sprint train report ({})", source, e.what());
  }
  return r;
}

std::string report_json(const RunReport& r) {
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["dataset"] = r.dataset;
  j["device"] = r.device;
  j["status"] = r.status;
  j["requested_epochs"] = r.requested_epochs;
  j["config"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : r.config) j["config"][key] = value;
  j["epochs"] = nlohmann::ordered_json::array();
  double total_seconds = 0.0;
  for (const EpochStats& e : r.epochs) {
    j["epochs"].push_back(epoch_row(e));
    total_seconds += e.train_seconds;
  }
  j["final"]["test_accuracy"] = r.epochs.empty() ? 0.0 : r.epochs.back().test.accuracy;
  j["final"]["train_seconds_total"] = total_seconds;
  if (r.tta) {
    j["final"]["tta_level"] = r.tta_level;
    j["final"]["tta_test_accuracy"] = r.tta->accuracy;
    j["final"]["tta_test_loss"] = r.tta->loss;
  }
  if (!r.profile.empty()) j["profile"] = nlohmann::ordered_json::parse(r.profile);
  if (!r.pipeline.empty()) j["pipeline"] = nlohmann::ordered_json::parse(r.pipeline);
  if (!r.distributed.empty()) j["distributed"] = nlohmann::ordered_json::parse(r.distributed);
  if (!r.sparse.empty()) j["sparse"] = nlohmann::ordered_json::parse(r.sparse);
  return j.dump(2) + "\n";
}

std::string distributed_json(const DistributedReport& d) {
  nlohmann::ordered_json j;
  j["ranks"] = d.ranks;
  j["backend"] = d.backend;
  j["optimizer_steps"] = d.optimizer_steps;
  j["collectives"] = d.collectives;
  j["bytes"] = d.bytes;
  j["bytes_per_step"] =
      d.optimizer_steps > 0 ? static_cast<double>(d.bytes) / static_cast<double>(d.optimizer_steps) : 0.0;
  j["overlap"] = d.overlap;
  j["buckets_reduced"] = d.buckets_reduced;
  j["buckets_started_during_backward"] = d.buckets_started_during_backward;
  j["sync_batch_norm"] = d.sync_batch_norm;
  return j.dump();
}

double pipeline_overlap(const std::vector<StageReport>& stages, double wall_seconds) {
  double busy = 0.0;
  for (const StageReport& s : stages) busy += s.busy_seconds;
  return wall_seconds > 0.0 ? busy / wall_seconds : 0.0;
}

std::string pipeline_json(const PipelineOptions& options, const std::string& boundaries,
                          const std::vector<StageReport>& stages, double wall_seconds) {
  nlohmann::ordered_json j;
  j["stages"] = options.stages;
  j["weight_policy"] = weight_policy_name(options.policy);
  j["micro_batches"] = options.micro_batches;
  j["boundaries"] = boundaries;
  j["wall_seconds"] = wall_seconds;
  j["overlap"] = pipeline_overlap(stages, wall_seconds);
  j["per_stage"] = nlohmann::ordered_json::array();
  for (const StageReport& s : stages) {
    nlohmann::ordered_json row;
    row["stage"] = s.stage;
    row["layers"] = fmt::format("{}-{}", s.first_layer, s.end_layer - 1);
    row["layer_names"] = s.layer_names;
    row["device"] = device_name(s.device);
    row["updates"] = s.updates;
    row["mean_staleness"] = s.mean_staleness;
    row["max_staleness"] = s.max_staleness;
    row["version_difference_forward"] = s.version_difference.forward;
    row["version_difference_backward"] = s.version_difference.backward;
    row["prediction_error"] = s.prediction_error.relative;
    row["prediction_error_vs_unpredicted"] = s.prediction_error.against_unpredicted;
    row["prediction_samples"] = s.prediction_error.samples;
    row["busy_seconds"] = s.busy_seconds;
    row["idle_seconds"] = s.idle_seconds;
    j["per_stage"].push_back(row);
  }
  return j.dump();
}

void write_report(const std::filesystem::path& path, const RunReport& report) {
  const std::string text = report_json(report);
  data::write_output_text(path, text);
}

std::string epoch_table_header() {
  return fmt::format("{:>5}  {:>10}  {:>9}  {:>9}  {:>8}  {:>10}", "epoch", "train loss", "test loss", "test acc",
                     "seconds", "samples/s");
}

std::string epoch_table_row(const EpochStats& e) {
  return fmt::format("{:>5}  {:>10.4f}  {:>9.4f}  {:>8.2f}%  {:>8.3f}  {:>10.0f}", e.epoch, e.train_loss, e.test.loss,
                     100.0 * e.test.accuracy, e.train_seconds, e.samples_per_second);
}

}  // namespace sprint::train
