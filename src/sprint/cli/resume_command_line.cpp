// resume_command_line.cpp: the command line of `sprint train --resume DIR`: the stored command with the allowed
// overrides (commands.h).
#include <algorithm>

#include "sprint/cli/commands.h"
#include "sprint/core/error.h"
#include "sprint/train/checkpoint.h"

namespace sprint::cli {

std::optional<std::vector<std::string>> with_resume(const std::vector<std::string>& args) {
  // Options of `sprint` itself (--log-level X) may come before the subcommand: they are kept as given.
  size_t at = 0;
  while (at + 1 < args.size() && args[at] == "--log-level") at += 2;
  if (at >= args.size() || args[at] != "train") return std::nullopt;
  const std::vector<std::string> prefix(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
  std::optional<std::string> dir;
  std::vector<std::pair<std::string, std::string>> overrides;
  for (size_t i = at + 1; i < args.size(); ++i) {
    std::string key = args[i], value;
    const size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return std::nullopt;  // a dangling option: the real parse reports it
    }
    if (key == "--resume") dir = value;
    else overrides.emplace_back(key, value);
  }
  if (!dir) return std::nullopt;
  for (const auto& [key, value] : overrides)
    if (key != "--report" && key != "--tensorboard" && key != "--progress" && key != "--log-level")
      SPRINT_THROW(InvalidArgument,
                   "--resume continues the stored configuration; {} cannot be changed (only --report, --tensorboard, "
                   "--progress and --log-level may be given with --resume)",
                   key);
  overrides.emplace_back("--checkpoint-dir", *dir);  // the run goes on saving where it is resumed from
  const std::vector<std::string> stored = train::load_checkpoint(*dir).run.command;
  if (stored.empty() || stored[0] != "train")
    SPRINT_THROW(FormatError, "{}: the stored command is not a sprint train command", *dir);
  std::vector<std::string> out = prefix;
  for (size_t i = 0; i < stored.size(); ++i) {  // drop the stored values of the overridden options
    const std::string key = stored[i].substr(0, stored[i].find('='));
    const bool overridden = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) { return o.first == key; });
    if (overridden) {
      if (stored[i].find('=') == std::string::npos) ++i;
      continue;
    }
    out.push_back(stored[i]);
  }
  for (const auto& [key, value] : overrides) {
    if (key == "--log-level") {
      out.insert(out.begin(), {key, value});  // an option of `sprint`, before the subcommand
    } else {
      out.push_back(key);
      out.push_back(value);
    }
  }
  out.push_back("--resume");
  out.push_back(*dir);
  return out;
}

}  // namespace sprint::cli
