// chrome_trace.h: the profiled steps as a Chrome trace-event file (the JSON Perfetto and chrome://tracing
// open):
// {"traceEvents":[...],"displayTimeUnit":"ms"} with one complete event
// {"name","cat","ph":"X","ts","dur","pid", "tid"[,"args":{"flops","bytes"}]} per span (microseconds,
// nanosecond precision) and "M" metadata events naming the processes and threads. Tracks: pid 1 "sprint
// host", tid 1 "training thread" (every span of a CPU run, and the steps and data waits of a CUDA run); pid 2
// named after the device, tid 1 "compute stream" (a CUDA run's layers, loss and optimizer, timed with
// events). Layer paths are the event names, the phase the category.
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "sprint/profile/profile_data.h"

namespace sprint::profile {

/// The trace document of `data`; events sorted per track by start (parents before their children).
std::string chrome_trace_json(const ProfileData& data);

/// Where one profile's tracks go in a trace that holds several (a pipeline's stages): its host track becomes
/// process `host_pid` named `host_name`, its device track (when it has one) process `device_pid` named
/// `device_name`, thread 1 each.
struct TraceProcesses {
  int host_pid = 1;
  std::string host_name = "sprint host";
  int device_pid = 2;
  std::string device_name;  ///< "" : the profile's device ("cuda:0")
};

/// Appends `data`'s metadata and span events to the trace-event array `events` (what chrome_trace_json
/// writes, with the processes of `where`).
void append_chrome_trace_events(nlohmann::ordered_json& events, const ProfileData& data,
                                const TraceProcesses& where);

/// Writes chrome_trace_json(data) with data::write_output_file (atomic replacement); throws IoError naming
/// the path.
void write_chrome_trace(const std::filesystem::path& path, const ProfileData& data);

}  // namespace sprint::profile
