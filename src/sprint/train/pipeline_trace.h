// pipeline_trace.h: a pipelined run's stages as a Chrome trace-event file (Perfetto, chrome://tracing): one
// track per stage, one complete event per forward, backward and update, named "forward 12" (mini-batch 12;
// "forward 12.3" for micro-batch 3 under the sync policy), so that the stages' overlap is visible:
// {"traceEvents":[{"name","cat","ph":"X","ts","dur","pid":1,"tid":k+1,"args":{"mini_batch","micro_batch"}}...,
// "M" events naming the process "sprint pipeline" and the threads "stage k"],"displayTimeUnit":"ms"}.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sprint/train/pipeline.h"

namespace sprint::train {

std::string pipeline_trace_json(const std::vector<PipelineSpan>& spans, int stages);
/// Writes pipeline_trace_json with data::write_output_file (atomic replacement); IoError naming the path.
void write_pipeline_trace(const std::filesystem::path& path, const std::vector<PipelineSpan>& spans,
                          int stages);

}  // namespace sprint::train
