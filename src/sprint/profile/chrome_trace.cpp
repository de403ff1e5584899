// chrome_trace.cpp: ProfileData -> Chrome trace-event JSON.
#include "sprint/profile/chrome_trace.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <span>

#include "sprint/data/output_file.h"

namespace sprint::profile {
namespace {

constexpr int kTid = 1;

int pid_of(Track track, const TraceProcesses& where) {
  switch (track) {
    case Track::kHost:
      return where.host_pid;
    case Track::kDevice:
      return where.device_pid;
  }
  return where.host_pid;
}

nlohmann::ordered_json metadata(const char* what, int pid, const std::string& name) {
  nlohmann::ordered_json m{{"name", what}, {"ph", "M"}, {"pid", pid}};
  if (std::string_view(what) == "thread_name") m["tid"] = kTid;
  m["args"] = {{"name", name}};
  return m;
}

// Microseconds with nanosecond precision.
double us(int64_t ns) {
  return static_cast<double>(ns) / 1000.0;
}

}  // namespace

void append_chrome_trace_events(nlohmann::ordered_json& events, const ProfileData& data,
                                const TraceProcesses& where) {
  using nlohmann::ordered_json;
  const bool has_device = std::any_of(data.spans.begin(), data.spans.end(),
                                      [](const Span& s) { return s.track == Track::kDevice; });
  events.push_back(metadata("process_name", where.host_pid, where.host_name));
  events.push_back(metadata("thread_name", where.host_pid, "training thread"));
  if (has_device) {
    events.push_back(
        metadata("process_name", where.device_pid, where.device_name.empty() ? data.device : where.device_name));
    events.push_back(metadata("thread_name", where.device_pid, "compute stream"));
  }
  // Per track by start; on a tie the longer (outer) span first, so that viewers stack children under parents.
  std::vector<size_t> order(data.spans.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const Span& x = data.spans[a];
    const Span& y = data.spans[b];
    if (x.track != y.track) return x.track < y.track;
    if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
    if (x.end_ns != y.end_ns) return x.end_ns > y.end_ns;
    return x.depth < y.depth;
  });
  for (const size_t i : order) {
    const Span& s = data.spans[i];
    ordered_json e{{"name", data.names.at(static_cast<size_t>(s.name))},
                   {"cat", category_name(s.category)},
                   {"ph", "X"},
                   {"ts", us(s.start_ns)},
                   {"dur", us(s.end_ns - s.start_ns)},
                   {"pid", pid_of(s.track, where)},
                   {"tid", kTid}};
    if (s.flops > 0 || s.bytes > 0) e["args"] = {{"flops", s.flops}, {"bytes", s.bytes}};
    events.push_back(std::move(e));
  }
}

std::string chrome_trace_json(const ProfileData& data) {
  using nlohmann::ordered_json;
  ordered_json events = ordered_json::array();
  append_chrome_trace_events(events, data, TraceProcesses{});
  return ordered_json{{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}}.dump();
}

void write_chrome_trace(const std::filesystem::path& path, const ProfileData& data) {
  const std::string text = chrome_trace_json(data);
  data::write_output_text(path, text);
}

}  // namespace sprint::profile
