// file_checks.h: what the readers and writers of train/'s own files (mask files, small checkpoints) share: a
// FormatError check and the FNV-1a hash their metadata records.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sprint/core/error.h"

/// Throws sprint::FormatError with the formatted message unless `cond` holds (a malformed file, not a bad call).
#define SPRINT_CHECK_FORMAT(cond, ...)        \
  do {                                        \
    if (!(cond)) [[unlikely]]                 \
      SPRINT_THROW(FormatError, __VA_ARGS__); \
  } while (0)

namespace sprint::train {

inline constexpr uint64_t kFnv1aStart = 1469598103934665603ull;

/// FNV-1a (64-bit) of `n` bytes, continuing from `h`.
inline uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

}  // namespace sprint::train
