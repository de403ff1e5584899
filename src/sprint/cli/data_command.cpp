// data_command.cpp: `sprint data fetch` and `sprint data list`.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "sprint/cli/commands.h"
#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "sprint/train/progress.h"

namespace sprint::cli {
namespace {
std::filesystem::path data_dir_from(const std::optional<std::string>& flag) {
  return data::resolve_data_dir(flag ? std::optional<std::filesystem::path>(*flag) : std::nullopt);
}
}  // namespace

int run_data_fetch(const DataFetchArgs& a) {
  const std::filesystem::path dir = data_dir_from(a.data_dir);
  train::ProgressLine progress(progress_enabled(a.progress));
  data::FetchOptions options;
  options.force = a.force;
  options.log = [&](std::string_view line) {
    progress.end();
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(line.size()), line.data());
  };
  options.waiting = [&](std::string_view step, double seconds) {
    progress.task(0, fmt::format("{}: {:.0f} s", step, seconds));
  };
  for (const std::string& name : a.names) {
    std::printf("fetching %s into %s\n", name.c_str(), dir.string().c_str());
    std::fflush(stdout);
    progress.begin("  " + name, 0);
    const data::FetchResult r = data::fetch_dataset(name, dir, options);
    progress.end();
    std::printf("%s: %s (%zu files verified by md5) in %s\n", name.c_str(),
                r.already_present ? "already installed" : "installed", r.files.size(), r.dir.string().c_str());
  }
  return 0;
}

int run_data_list(const std::optional<std::string>& flag) {
  const std::filesystem::path dir = data_dir_from(flag);
  std::printf("data directory: %s\n", dir.string().c_str());
  for (const std::string& name : data::known_datasets()) {
    std::string status;
    try {
      const data::Dataset train = data::load_dataset(name, data::Split::kTrain, dir);
      const data::Dataset test = data::load_dataset(name, data::Split::kTest, dir);
      status = std::to_string(train.size()) + " train / " + std::to_string(test.size()) + " test";
    } catch (const IoError&) {
      status = "not installed (sprint data fetch " + name + ")";
    } catch (const Error& e) {
      status = std::string("corrupt: ") + e.what() + " (sprint data fetch " + name + " repairs it)";
    }
    std::printf("  %-14s %s\n", name.c_str(), status.c_str());
  }
  return 0;
}

}  // namespace sprint::cli
