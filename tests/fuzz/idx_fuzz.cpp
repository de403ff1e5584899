// idx_fuzz.cpp: fuzz target for the IDX parsers and the bounded gzip decoder. Malformed input must end in a
// sprint::Error; accepted input must give tensors consistent with the bytes (sizes, label range).
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "sprint/core/error.h"
#include "sprint/data/file_io.h"
#include "sprint/data/idx.h"

namespace {
using namespace sprint;

void parse_both(std::span<const uint8_t> bytes) {
  try {
    const Tensor images = data::parse_idx_images(bytes, "fuzz-images");
    FUZZ_CHECK(images.ndim() == 4 && images.dim(1) == 1);
    FUZZ_CHECK(static_cast<size_t>(images.numel()) + 16 == bytes.size());
    FUZZ_CHECK(images.data_as<uint8_t>()[images.numel() - 1] == bytes.back());
  } catch (const Error&) {
  }
  try {
    const Tensor labels = data::parse_idx_labels(bytes, "fuzz-labels", 10);
    FUZZ_CHECK(labels.ndim() == 1 && static_cast<size_t>(labels.numel()) + 8 == bytes.size());
    const int32_t* p = labels.data_as<int32_t>();
    for (int64_t i = 0; i < labels.numel(); ++i) FUZZ_CHECK(p[i] >= 0 && p[i] < 10);
  } catch (const Error&) {
  }
}
}  // namespace

extern "C" int SPRINT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  parse_both(bytes);
  if (sprint::data::is_gzip(bytes)) {
    try {
      const std::vector<uint8_t> raw = sprint::data::gunzip(bytes, "fuzz.gz", size_t{1} << 20);
      FUZZ_CHECK(raw.size() <= (size_t{1} << 20));
      parse_both(raw);
    } catch (const sprint::Error&) {
    }
  }
  return 0;
}
