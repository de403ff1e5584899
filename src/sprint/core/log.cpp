// log.cpp: the one translation unit that includes spdlog. Messages go to stderr.
#include "sprint/core/log.h"

#include <atomic>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "sprint/core/error.h"

namespace sprint {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kWarn};

spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto l = spdlog::stderr_color_mt("sprint");
    l->set_pattern("[sprint %^%l%$] %v");
    l->set_level(spdlog::level::trace);
    return l;
  }();
  return *instance;
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

LogLevel parse_log_level(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn" || name == "warning") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  SPRINT_THROW(InvalidArgument, "unknown log level '{}' (expected debug, info, warn, error or off)", name);
}

void log_message(LogLevel level, std::string_view message) {
  if (level < log_level()) return;
  switch (level) {
    case LogLevel::kDebug: logger().debug("{}", message); break;
    case LogLevel::kInfo: logger().info("{}", message); break;
    case LogLevel::kWarn: logger().warn("{}", message); break;
    case LogLevel::kError: logger().error("{}", message); break;
    case LogLevel::kOff: break;
  }
}

}  // namespace sprint
