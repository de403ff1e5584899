// log.h: leveled logging. Formatting uses fmt; the sink (spdlog, stderr) is hidden in log.cpp so that only one
// translation unit pays for spdlog's headers. Library code logs; it never prints to stdout.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace sprint {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

void set_log_level(LogLevel level);
LogLevel log_level();
/// Parses "debug", "info", "warn", "error", "off".
LogLevel parse_log_level(std::string_view name);
void log_message(LogLevel level, std::string_view message);

template <class... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::kDebug) log_message(LogLevel::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::kInfo) log_message(LogLevel::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(fmt::format_string<Args...> format, Args&&... args) {
  if (log_level() <= LogLevel::kWarn) log_message(LogLevel::kWarn, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sprint
