// pipeline_profile.h: a profiled pipeline's stages as profile tables, one per stage (each stage times its own
// steps on its own thread, pipeline.h), and as the report's "profile" object:
// {"pipeline_stages":[{"stage","layer_names", ...profile::profile_json's keys}]}.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sprint/profile/profile_data.h"
#include "sprint/train/pipeline.h"

namespace sprint::train {

/// "stage k (names):" and the stage's profile table (its `top_n` longest rows), for every stage. `profiles`
/// holds one profile per entry of `stages` (InvalidArgument otherwise).
std::string pipeline_profile_tables(const std::vector<StageReport>& stages,
                                    const std::vector<const profile::ProfileData*>& profiles, size_t top_n);

/// The object described above, compact.
std::string pipeline_profile_json(const std::vector<StageReport>& stages,
                                  const std::vector<const profile::ProfileData*>& profiles);

}  // namespace sprint::train
