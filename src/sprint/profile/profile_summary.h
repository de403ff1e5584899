// profile_summary.h: the profiled steps as a table keyed by (name, phase), like torch.profiler's
// key_averages(): calls, total (inclusive) and self time, shares of the step time, achieved FLOP/s and
// bytes/s where the layer states its cost, plus the step's data wait, compute and optimizer time and the
// memory statistics; printed as text and written as JSON (the --report's "profile" object).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sprint/profile/profile_data.h"

namespace sprint::profile {

/// The name of the row that holds the step time no span accounts for (between and around the timed regions).
inline constexpr const char* kUnaccountedRow = "[other]";

struct ProfileRow {
  std::string name;
  std::string kind;  ///< the layer's type ("Conv2d"), "" for regions
  Category category = Category::kForward;
  int64_t calls = 0;
  int64_t total_ns = 0;  ///< inclusive: children's time included
  int64_t self_ns = 0;   ///< total minus the children's totals
  int64_t flops = 0;     ///< summed over the calls; 0: unknown
  int64_t bytes = 0;
  double share = 0.0;             ///< total_ns / the steps' time
  double self_share = 0.0;        ///< self_ns / the steps' time: over all rows these sum to 1
  double flops_per_second = 0.0;  ///< flops / total time; 0: unknown
  double bytes_per_second = 0.0;

  double mean_ns() const {
    return calls > 0 ? static_cast<double>(total_ns) / static_cast<double>(calls) : 0.0;
  }
};

struct ProfileSummary {
  std::string device;
  bool device_timing = false;
  int64_t steps = 0;
  int64_t warmup_steps = 0;
  int64_t step_ns = 0;       ///< all profiled steps together
  int64_t data_ns = 0;       ///< waiting for the data loader
  int64_t compute_ns = 0;    ///< step_ns - data_ns
  int64_t optimizer_ns = 0;  ///< optimizer steps
  /// Sorted by total time (longest first), then name and phase; the kUnaccountedRow row included.
  std::vector<ProfileRow> rows;
  std::vector<MemorySample> memory;
};

/// Aggregates `data`'s spans (throws InvalidArgument when spans of a track do not nest).
ProfileSummary summarize(const ProfileData& data);

/// The table of the `top_n` longest rows with a heading line (steps, mean step, data wait, compute,
/// optimizer) and one memory line per allocator; "-" where a layer states no cost. Ends with a newline.
std::string format_profile_table(const ProfileSummary& summary, size_t top_n);

/// {"steps","warmup_steps","device","timing":"host clock"|"cuda
/// events","step_ms","mean_step_ms","data_wait_ms",
///  "compute_ms","optimizer_ms","rows":[{"name","kind","phase","calls","total_ms","mean_ms","self_ms","share",
///  "self_share","flops","bytes","flops_per_second","bytes_per_second"}],"memory":[{"device","allocated_bytes",
///  "peak_allocated_bytes","reserved_bytes","peak_reserved_bytes"}]} (flops and rates null when unknown),
///  compact.
std::string profile_json(const ProfileSummary& summary);

}  // namespace sprint::profile
