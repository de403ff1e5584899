// error.cpp: out-of-line throw helpers for SPRINT_CHECK / SPRINT_ASSERT (keeps the macro expansion small).
#include "sprint/core/error.h"

#include <cstring>

namespace sprint::detail {
namespace {
const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}
}  // namespace

void throw_check_failure(const char* file, int line, const char* expr, const std::string& message) {
  throw InvalidArgument(fmt::format("{} [check `{}` failed at {}:{}]", message, expr, base_name(file), line));
}

void throw_internal_failure(const char* file, int line, const char* expr, const std::string& message) {
  throw InternalError(
      fmt::format("internal error: {} [assert `{}` failed at {}:{}]", message, expr, base_name(file), line));
}

}  // namespace sprint::detail
