// pipeline_profile.cpp: per-stage profile tables and JSON.
#include "sprint/train/pipeline_profile.h"

#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/profile/profile_summary.h"

namespace sprint::train {
namespace {

void check_sizes(const std::vector<StageReport>& stages, const std::vector<const profile::ProfileData*>& profiles) {
  SPRINT_CHECK(stages.size() == profiles.size(), "{} stage profiles for {} stages", profiles.size(), stages.size());
}

}  // namespace

std::string pipeline_profile_tables(const std::vector<StageReport>& stages,
                                    const std::vector<const profile::ProfileData*>& profiles, size_t top_n) {
  check_sizes(stages, profiles);
  std::string out;
  for (size_t k = 0; k < stages.size(); ++k) {
    out += fmt::format("stage {} ({}):\n", stages[k].stage, stages[k].layer_names);
    out += profile::format_profile_table(profile::summarize(*profiles[k]), top_n);
  }
  return out;
}

std::string pipeline_profile_json(const std::vector<StageReport>& stages,
                                  const std::vector<const profile::ProfileData*>& profiles) {
  check_sizes(stages, profiles);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (size_t k = 0; k < stages.size(); ++k) {
    nlohmann::ordered_json entry{{"stage", stages[k].stage}, {"layer_names", stages[k].layer_names}};
    const nlohmann::ordered_json summary =
        nlohmann::ordered_json::parse(profile::profile_json(profile::summarize(*profiles[k])));
    for (const auto& [key, value] : summary.items()) entry[key] = value;
    list.push_back(std::move(entry));
  }
  return nlohmann::ordered_json{{"pipeline_stages", std::move(list)}}.dump();
}

}  // namespace sprint::train
