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
#include <string>

#include "sprint/profile/profile_data.h"

namespace sprint::profile {

/// The trace document of `data`; events sorted per track by start (parents before their children).
std::string chrome_trace_json(const ProfileData& data);

/// Writes chrome_trace_json(data) with data::write_output_file (atomic replacement); throws IoError naming
/// the path.
void write_chrome_trace(const std::filesystem::path& path, const ProfileData& data);

}  // namespace sprint::profile
