// chrome_trace_check.cpp: schema and nesting check of Chrome trace-event JSON.
#include "support/chrome_trace_check.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

namespace sprint::testing {
namespace {
struct Complete {
  double start, end;
  std::string name;
};
}  // namespace

::testing::AssertionResult is_valid_chrome_trace(const std::string& json, size_t* n_complete) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "not JSON: " << e.what();
  }
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array())
    return ::testing::AssertionFailure() << "no traceEvents array";
  std::set<int64_t> named_pids;
  std::set<std::pair<int64_t, int64_t>> named_threads;
  std::map<std::pair<int64_t, int64_t>, std::vector<Complete>> tracks;
  for (const nlohmann::json& e : doc["traceEvents"]) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || !e.contains("ph") ||
        !e["ph"].is_string() || !e.contains("pid") || !e["pid"].is_number_integer())
      return ::testing::AssertionFailure() << "event without name/ph/pid: " << e.dump();
    const std::string ph = e["ph"];
    const int64_t pid = e["pid"];
    if (ph == "M") {
      const std::string what = e["name"];
      if (!e.contains("args") || !e["args"].contains("name") || !e["args"]["name"].is_string())
        return ::testing::AssertionFailure() << "metadata without args.name: " << e.dump();
      if (what == "process_name") {
        named_pids.insert(pid);
      } else if (what == "thread_name") {
        if (!e.contains("tid") || !e["tid"].is_number_integer())
          return ::testing::AssertionFailure() << "thread_name without tid: " << e.dump();
        named_threads.insert({pid, e["tid"].get<int64_t>()});
      } else {
        return ::testing::AssertionFailure() << "unexpected metadata " << what;
      }
      continue;
    }
    if (ph != "X") return ::testing::AssertionFailure() << "unexpected phase " << ph;
    if (!e.contains("cat") || !e["cat"].is_string() || !e.contains("ts") || !e["ts"].is_number() ||
        !e.contains("dur") || !e["dur"].is_number() || !e.contains("tid") || !e["tid"].is_number_integer())
      return ::testing::AssertionFailure() << "complete event without cat/ts/dur/tid: " << e.dump();
    const double ts = e["ts"], dur = e["dur"];
    if (ts < 0 || dur < 0) return ::testing::AssertionFailure() << "negative ts or dur: " << e.dump();
    tracks[{pid, e["tid"].get<int64_t>()}].push_back({ts, ts + dur, e["name"]});
  }
  size_t n = 0;
  constexpr double kTolerance = 1e-3;  // 1 ns in microseconds
  for (auto& [track, events] : tracks) {
    if (!named_pids.count(track.first) || !named_threads.count(track))
      return ::testing::AssertionFailure()
             << "track pid " << track.first << " tid " << track.second << " is unnamed";
    std::stable_sort(events.begin(), events.end(), [](const Complete& a, const Complete& b) {
      return a.start != b.start ? a.start < b.start : a.end > b.end;
    });
    std::vector<const Complete*> open;
    for (const Complete& e : events) {
      while (!open.empty() && open.back()->end <= e.start + kTolerance && open.back()->end < e.end)
        open.pop_back();
      if (!open.empty() && e.end > open.back()->end + kTolerance)
        return ::testing::AssertionFailure()
               << "'" << e.name << "' [" << e.start << ", " << e.end << "] overlaps '" << open.back()->name
               << "' [" << open.back()->start << ", " << open.back()->end << "] without nesting";
      open.push_back(&e);
    }
    n += events.size();
  }
  if (n_complete != nullptr) *n_complete = n;
  return ::testing::AssertionSuccess();
}

}  // namespace sprint::testing
