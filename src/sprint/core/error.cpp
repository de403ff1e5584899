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
  InvalidArgument e(message);
  e.set_where(fmt::format("check `{}` failed at {}:{}", expr, base_name(file), line));
  throw e;
}

void throw_internal_failure(const char* file, int line, const char* expr, const std::string& message) {
  InternalError e(fmt::format("internal error: {}", message));
  e.set_where(fmt::format("assert `{}` failed at {}:{}", expr, base_name(file), line));
  throw e;
}

}  // namespace sprint::detail
