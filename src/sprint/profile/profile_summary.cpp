// profile_summary.cpp: spans -> key_averages-style rows (self time from the nesting), the text table, the
// JSON.
#include "sprint/profile/profile_summary.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "sprint/core/error.h"

namespace sprint::profile {

const char* category_name(Category category) {
  switch (category) {
    case Category::kForward:
      return "forward";
    case Category::kBackward:
      return "backward";
    case Category::kLoss:
      return "loss";
    case Category::kOptimizer:
      return "optimizer";
    case Category::kData:
      return "data";
    case Category::kStep:
      return "step";
  }
  return "unknown";
}

int64_t ProfileData::n_steps() const {
  return std::count_if(spans.begin(), spans.end(),
                       [](const Span& s) { return s.category == Category::kStep; });
}

namespace {

// Self time of every span: its duration minus its direct children's (the spans of its track one level deeper
// that begin while it is open). Throws when a span does not lie inside its parent.
std::vector<int64_t> self_times(const ProfileData& data) {
  std::vector<int64_t> self(data.spans.size());
  std::vector<size_t> open[2];
  for (size_t i = 0; i < data.spans.size(); ++i) {
    const Span& s = data.spans[i];
    SPRINT_CHECK(s.name >= 0 && static_cast<size_t>(s.name) < data.names.size(),
                 "profile span {} has no name", i);
    SPRINT_CHECK(s.end_ns >= s.start_ns, "profile span '{}' ends before it starts", data.names[s.name]);
    self[i] = s.end_ns - s.start_ns;
    std::vector<size_t>& stack = open[s.track == Track::kHost ? 0 : 1];
    while (stack.size() > static_cast<size_t>(s.depth)) stack.pop_back();
    SPRINT_CHECK(stack.size() == static_cast<size_t>(s.depth), "profile span '{}' at depth {} has no parent",
                 data.names[s.name], s.depth);
    if (!stack.empty()) {
      const Span& parent = data.spans[stack.back()];
      SPRINT_CHECK(s.start_ns >= parent.start_ns && s.end_ns <= parent.end_ns,
                   "profile span '{}' [{}, {}] ns is not inside its parent '{}' [{}, {}] ns",
                   data.names[s.name], s.start_ns, s.end_ns, data.names[parent.name], parent.start_ns,
                   parent.end_ns);
      self[stack.back()] -= s.end_ns - s.start_ns;
    }
    stack.push_back(i);
  }
  return self;
}

double ratio(double part, double whole) {
  return whole > 0.0 ? part / whole : 0.0;
}
double ms(int64_t ns) {
  return static_cast<double>(ns) * 1e-6;
}
double ms(double ns) {
  return ns * 1e-6;
}

// "12.3" for a rate in units of `unit` per second, "-" when unknown.
std::string rate(double per_second, double unit) {
  return per_second > 0.0 ? fmt::format("{:.2f}", per_second / unit) : std::string("-");
}

// `name` cut to `width` characters from the left ("...layer4.1.conv2"): the end of a path says most.
std::string fit(const std::string& name, size_t width) {
  if (name.size() <= width) return name;
  return "..." + name.substr(name.size() - (width - 3));
}

}  // namespace

ProfileSummary summarize(const ProfileData& data) {
  ProfileSummary out;
  out.device = data.device;
  out.device_timing = data.device_timing;
  out.warmup_steps = data.warmup_steps;
  out.memory = data.memory;
  const std::vector<int64_t> self = self_times(data);
  std::map<std::pair<int32_t, Category>, size_t> index;
  int64_t accounted = 0;
  for (size_t i = 0; i < data.spans.size(); ++i) {
    const Span& s = data.spans[i];
    const int64_t duration = s.end_ns - s.start_ns;
    if (s.category == Category::kStep) {
      ++out.steps;
      out.step_ns += duration;
      continue;
    }
    const auto [it, added] = index.try_emplace({s.name, s.category}, out.rows.size());
    if (added) {
      const auto n = static_cast<size_t>(s.name);
      out.rows.push_back(
          {.name = data.names[n], .kind = n < data.kinds.size() ? data.kinds[n] : std::string(), .category = s.category});
    }
    ProfileRow& row = out.rows[it->second];
    ++row.calls;
    row.total_ns += duration;
    row.self_ns += self[i];
    row.flops += s.flops;
    row.bytes += s.bytes;
    accounted += self[i];
    switch (s.category) {
      case Category::kData:
        out.data_ns += duration;
        break;
      case Category::kOptimizer:
        out.optimizer_ns += duration;
        break;
      case Category::kForward:
      case Category::kBackward:
      case Category::kLoss:
      case Category::kStep:
        break;
    }
  }
  out.compute_ns = std::max<int64_t>(0, out.step_ns - out.data_ns);
  if (out.steps > 0)
    out.rows.push_back({.name = kUnaccountedRow,
                        .kind = {},
                        .category = Category::kStep,
                        .calls = out.steps,
                        .total_ns = std::max<int64_t>(0, out.step_ns - accounted),
                        .self_ns = std::max<int64_t>(0, out.step_ns - accounted)});
  const auto step = static_cast<double>(out.step_ns);
  for (ProfileRow& row : out.rows) {
    row.share = ratio(static_cast<double>(row.total_ns), step);
    row.self_share = ratio(static_cast<double>(row.self_ns), step);
    const double seconds = static_cast<double>(row.total_ns) * 1e-9;
    if (row.flops > 0 && seconds > 0) row.flops_per_second = static_cast<double>(row.flops) / seconds;
    if (row.bytes > 0 && seconds > 0) row.bytes_per_second = static_cast<double>(row.bytes) / seconds;
  }
  std::stable_sort(out.rows.begin(), out.rows.end(), [](const ProfileRow& a, const ProfileRow& b) {
    if (a.total_ns != b.total_ns) return a.total_ns > b.total_ns;
    if (a.name != b.name) return a.name < b.name;
    return a.category < b.category;
  });
  return out;
}

std::string format_profile_table(const ProfileSummary& s, size_t top_n) {
  std::string out;
  if (s.steps == 0) {
    return fmt::format("profile: no step was profiled (the run ended within the {} warm-up steps)\n",
                       s.warmup_steps);
  }
  const double steps = static_cast<double>(s.steps);
  out += fmt::format(
      "profile: {} steps after {} warm-up on {} ({}); mean step {:.3f} ms: data wait {:.3f} ms ({:.1f}%), "
      "compute "
      "{:.3f} ms, optimizer {:.3f} ms ({:.1f}%)\n",
      s.steps, s.warmup_steps, s.device, s.device_timing ? "CUDA events" : "host clock",
      ms(s.step_ns) / steps, ms(s.data_ns) / steps,
      100.0 * ratio(static_cast<double>(s.data_ns), static_cast<double>(s.step_ns)), ms(s.compute_ns) / steps,
      ms(s.optimizer_ns) / steps,
      100.0 * ratio(static_cast<double>(s.optimizer_ns), static_cast<double>(s.step_ns)));
  const size_t shown = std::min(top_n, s.rows.size());
  size_t width = 4;
  for (size_t i = 0; i < shown; ++i) width = std::max(width, s.rows[i].name.size());
  width = std::min<size_t>(width, 48);
  const std::string header =
      fmt::format("{:<{}}  {:<9} {:>6} {:>11} {:>10} {:>7} {:>10} {:>7} {:>9} {:>8}", "Name", width, "Phase",
                  "Calls", "Total ms", "Mean ms", "Total%", "Self ms", "Self%", "GFLOP/s", "GB/s");
  out += header + "\n" + std::string(header.size(), '-') + "\n";
  for (size_t i = 0; i < shown; ++i) {
    const ProfileRow& r = s.rows[i];
    out += fmt::format("{:<{}}  {:<9} {:>6} {:>11.3f} {:>10.3f} {:>6.1f}% {:>10.3f} {:>6.1f}% {:>9} {:>8}\n",
                       fit(r.name, width), width, category_name(r.category), r.calls, ms(r.total_ns),
                       ms(r.mean_ns()), 100.0 * r.share, ms(r.self_ns), 100.0 * r.self_share,
                       rate(r.flops_per_second, 1e9), rate(r.bytes_per_second, 1e9));
  }
  if (shown < s.rows.size())
    out += fmt::format("({} of {} rows; sorted by total time)\n", shown, s.rows.size());
  for (const MemorySample& m : s.memory) {
    out += fmt::format("memory {}: {} allocated (peak {}), {} reserved (peak {})\n", m.device,
                       format_bytes(m.stats.allocated_bytes), format_bytes(m.stats.peak_allocated_bytes),
                       format_bytes(m.stats.reserved_bytes), format_bytes(m.stats.peak_reserved_bytes));
  }
  return out;
}

std::string profile_json(const ProfileSummary& s) {
  using nlohmann::ordered_json;
  const double steps = static_cast<double>(std::max<int64_t>(s.steps, 1));
  ordered_json j;
  j["steps"] = s.steps;
  j["warmup_steps"] = s.warmup_steps;
  j["device"] = s.device;
  j["timing"] = s.device_timing ? "cuda events" : "host clock";
  j["step_ms"] = ms(s.step_ns);
  j["mean_step_ms"] = ms(s.step_ns) / steps;
  j["data_wait_ms"] = ms(s.data_ns);
  j["compute_ms"] = ms(s.compute_ns);
  j["optimizer_ms"] = ms(s.optimizer_ns);
  ordered_json rows = ordered_json::array();
  for (const ProfileRow& r : s.rows) {
    ordered_json row;
    row["name"] = r.name;
    row["kind"] = r.kind;
    row["phase"] = category_name(r.category);
    row["calls"] = r.calls;
    row["total_ms"] = ms(r.total_ns);
    row["mean_ms"] = ms(r.mean_ns());
    row["self_ms"] = ms(r.self_ns);
    row["share"] = r.share;
    row["self_share"] = r.self_share;
    row["flops"] = r.flops > 0 ? ordered_json(r.flops) : ordered_json(nullptr);
    row["bytes"] = r.bytes > 0 ? ordered_json(r.bytes) : ordered_json(nullptr);
    row["flops_per_second"] =
        r.flops_per_second > 0 ? ordered_json(r.flops_per_second) : ordered_json(nullptr);
    row["bytes_per_second"] =
        r.bytes_per_second > 0 ? ordered_json(r.bytes_per_second) : ordered_json(nullptr);
    rows.push_back(std::move(row));
  }
  j["rows"] = std::move(rows);
  ordered_json memory = ordered_json::array();
  for (const MemorySample& m : s.memory) {
    memory.push_back({{"device", m.device},
                      {"allocated_bytes", m.stats.allocated_bytes},
                      {"peak_allocated_bytes", m.stats.peak_allocated_bytes},
                      {"reserved_bytes", m.stats.reserved_bytes},
                      {"peak_reserved_bytes", m.stats.peak_reserved_bytes}});
  }
  j["memory"] = std::move(memory);
  return j.dump();
}

}  // namespace sprint::profile
