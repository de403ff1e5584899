// chrome_trace_check.h: an independent check of a Chrome trace-event document (what Perfetto and
// chrome://tracing read), shared by the profiler's unit tests and the CLI's e2e tests.
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace sprint::testing {

/// Parses `json` and checks the schema: an object with a "traceEvents" array; every event has "name", "ph"
/// and "pid"; "M" events are process_name / thread_name with args.name; "X" events have a string "cat",
/// numbers "ts" >= 0 and "dur" >= 0 and a "tid"; every (pid, tid) of an X event is named by M events; and the
/// X events of each track nest: each lies inside the one that encloses its start (1 ns tolerance). Returns
/// the number of X events through `n_complete` when given.
::testing::AssertionResult is_valid_chrome_trace(const std::string& json, size_t* n_complete = nullptr);

}  // namespace sprint::testing
