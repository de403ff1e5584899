// pipeline_trace.cpp: pipeline spans -> Chrome trace-event JSON.
#include "sprint/train/pipeline_trace.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <span>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"

namespace sprint::train {

std::string pipeline_trace_json(const std::vector<PipelineSpan>& spans, int stages) {
  using nlohmann::ordered_json;
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
  return ordered_json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}}.dump();
}

void write_pipeline_trace(const std::filesystem::path& path, const std::vector<PipelineSpan>& spans,
                          int stages) {
  const std::string text = pipeline_trace_json(spans, stages);
  data::write_output_text(path, text);
}

}  // namespace sprint::train
