// report.cpp: epoch table formatting and the JSON report.
#include "sprint/train/report.h"

#include <fstream>

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

std::vector<EpochStats> parse_epochs_json(const std::string& text) {
  std::vector<EpochStats> out;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    SPRINT_CHECK(j.is_array(), "expected a JSON array of epochs");
    for (const nlohmann::json& row : j) {
      EpochStats e;
      e.epoch = row.at("epoch").get<int64_t>();
      e.train_loss = row.at("train_loss").get<double>();
      e.train_samples = row.at("train_samples").get<int64_t>();
      e.test.loss = row.at("test_loss").get<double>();
      e.test.accuracy = row.at("test_accuracy").get<double>();
      e.test.samples = row.at("test_samples").get<int64_t>();
      e.train_seconds = row.at("train_seconds").get<double>();
      e.samples_per_second = row.at("samples_per_second").get<double>();
      if (row.contains("loss_scale")) {
        e.loss_scale = row.at("loss_scale").get<double>();
        e.skipped_steps = row.at("skipped_steps").get<int64_t>();
      }
      out.push_back(e);
    }
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "the saved epochs are not valid ({})", e.what());
  }
  return out;
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
  return j.dump(2) + "\n";
}

void write_report(const std::filesystem::path& path, const RunReport& report) {
  const std::string text = report_json(report);
  data::write_output_file(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
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
