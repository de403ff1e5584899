// pipeline_trace.cpp: pipeline spans -> Chrome trace-event JSON.
#include "sprint/train/pipeline_trace.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"
#include "sprint/profile/chrome_trace.h"

namespace sprint::train {

std::string pipeline_trace_json(const std::vector<PipelineSpan>& spans, int stages,
                                const std::vector<const profile::ProfileData*>& profiles) {
  using nlohmann::ordered_json;
  SPRINT_CHECK(profiles.empty() || static_cast<int>(profiles.size()) == stages, "{} stage profiles for {} stages",
               profiles.size(), stages);
  ordered_json events = ordered_json::array();
  events.push_back(
      {{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", "sprint pipeline"}}}});
  for (int k = 0; k < stages; ++k)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", 1},
                      {"tid", k + 1},
                      {"args", {{"name", fmt::format("stage {}", k)}}}});
  std::vector<PipelineSpan> sorted = spans;
  std::stable_sort(sorted.begin(), sorted.end(), [](const PipelineSpan& a, const PipelineSpan& b) {
    return a.stage != b.stage ? a.stage < b.stage : a.start_ns < b.start_ns;
  });
  for (const PipelineSpan& s : sorted) {
    const std::string name =
        s.micro_batch > 0
            ? fmt::format("{} {}.{}", pipeline_span_kind_name(s.kind), s.mini_batch, s.micro_batch)
            : fmt::format("{} {}", pipeline_span_kind_name(s.kind), s.mini_batch);
    events.push_back({{"name", name},
                      {"cat", pipeline_span_kind_name(s.kind)},
                      {"ph", "X"},
                      {"ts", static_cast<double>(s.start_ns) / 1000.0},
                      {"dur", static_cast<double>(s.end_ns - s.start_ns) / 1000.0},
                      {"pid", 1},
                      {"tid", s.stage + 1},
                      {"args", {{"mini_batch", s.mini_batch}, {"micro_batch", s.micro_batch}}}});
  }
  for (size_t k = 0; k < profiles.size(); ++k) {
    const int pid = 2 + 2 * static_cast<int>(k);
    profile::append_chrome_trace_events(events, *profiles[k],
                                        {.host_pid = pid,
                                         .host_name = fmt::format("stage {} host", k),
                                         .device_pid = pid + 1,
                                         .device_name = fmt::format("stage {} {}", k, profiles[k]->device)});
  }
  return ordered_json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}}.dump();
}

void write_pipeline_trace(const std::filesystem::path& path, const std::vector<PipelineSpan>& spans, int stages,
                          const std::vector<const profile::ProfileData*>& profiles) {
  const std::string text = pipeline_trace_json(spans, stages, profiles);
  data::write_output_text(path, text);
}

}  // namespace sprint::train
