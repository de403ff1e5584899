// pipeline_trace.h: a pipelined run's stages as a Chrome trace-event file (Perfetto, chrome://tracing): one
// track per stage, one complete event per forward, backward and update, named "forward 12" (mini-batch 12;
// "forward 12.3" for micro-batch 3 under the sync policy), so that the stages' overlap is visible:
// {"traceEvents":[{"name","cat","ph":"X","ts","dur","pid":1,"tid":k+1,"args":{"mini_batch","micro_batch"}}...,
// "M" events naming the process "sprint pipeline" and the threads "stage k"],"displayTimeUnit":"ms"}.
// A profiled pipeline adds each stage's profiled steps (layers, regions, waits) as processes of their own:
// pid 2 + 2k "stage k host" (and, on a GPU, pid 3 + 2k "stage k <device>" for its stream), on the same clock.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sprint/train/pipeline.h"

namespace sprint::train {

/// `profiles`: one per stage (the stage's profile), or empty.
std::string pipeline_trace_json(const std::vector<PipelineSpan>& spans, int stages,
                                const std::vector<const profile::ProfileData*>& profiles = {});
/// Writes pipeline_trace_json with data::write_output_file (atomic replacement); IoError naming the path.
void write_pipeline_trace(const std::filesystem::path& path, const std::vector<PipelineSpan>& spans, int stages,
                          const std::vector<const profile::ProfileData*>& profiles = {});

}  // namespace sprint::train
