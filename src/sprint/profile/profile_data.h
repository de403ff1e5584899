// profile_data.h: what the profiler records of the steps it profiles: timed spans (a layer's forward or
// backward, the data wait, the optimizer step, ...) on the host and device tracks, and the memory statistics
// at the end. Plain data: the summary (profile_summary.h) and the Chrome trace (chrome_trace.h) are functions
// of it, so tests build it by hand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sprint/core/allocator.h"

namespace sprint::profile {

/// What a span is; the trace's "cat" and the table's phase column.
enum class Category { kForward, kBackward, kLoss, kOptimizer, kData, kStep };
/// "forward", "backward", "loss", "optimizer", "data", "step"
const char* category_name(Category category);

/// Where a span was timed: the training thread's host clock, or CUDA events on the compute stream.
enum class Track { kHost, kDevice };

/// One timed interval. Spans of one track nest: a span's children (depth + 1) lie inside it.
struct Span {
  /// Index into ProfileData::names: a layer path ("layer1.0.conv1") or a region ("optimizer").
  int32_t name = 0;
  Category category = Category::kForward;
  Track track = Track::kHost;
  int32_t depth = 0;     ///< nesting level within the track (a host step span is 0)
  int64_t start_ns = 0;  ///< nanoseconds since the profiler started, on the host clock's timeline
  int64_t end_ns = 0;
  int64_t flops = 0;  ///< the layer's cost of this pass (nn::LayerCost); 0: unknown
  int64_t bytes = 0;
};

/// One allocator's statistics, named by its device ("cpu", "cuda:0", "cuda:0 pinned host").
struct MemorySample {
  std::string device;
  AllocatorStats stats;
};

struct ProfileData {
  std::string device = "cpu";  ///< the device the steps ran on
  bool device_timing = false;  ///< layer spans timed with CUDA events (Track::kDevice)
  int64_t warmup_steps = 0;    ///< steps run before the first profiled one
  std::vector<std::string> names;
  /// Per name: the layer's type ("Conv2d", "BatchNorm2d"; Module::type_name), "" for regions.
  std::vector<std::string> kinds;
  /// Every profiled step's spans in the order they began; each step is one Category::kStep span on the host
  /// track.
  std::vector<Span> spans;
  /// The allocators at the end of the last profiled step (current values and peaks).
  std::vector<MemorySample> memory;

  /// Number of profiled steps (kStep spans).
  int64_t n_steps() const;
};

}  // namespace sprint::profile
