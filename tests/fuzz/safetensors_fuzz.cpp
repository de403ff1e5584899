// safetensors_fuzz.cpp: fuzz target for the safetensors reader. Malformed input must end in a sprint::Error;
// accepted input must describe tensors that tile the data bytes exactly and read back with their byte counts.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.h"
#include "sprint/core/error.h"
#include "sprint/data/safetensors.h"

extern "C" int SPRINT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace sprint;
  try {
    const data::SafetensorsFile file(std::vector<uint8_t>(data, data + size), "fuzz.safetensors");
    uint64_t covered = 0;
    for (const data::SafetensorsFile::Entry& e : file.entries()) {
      FUZZ_CHECK(e.begin >= 8 && e.begin + e.size <= size);
      FUZZ_CHECK(static_cast<uint64_t>(e.shape.product()) * dtype_size(e.dtype) == e.size);
      covered += e.size;
      const Tensor t = file.tensor(e);
      FUZZ_CHECK(t.numel() == e.shape.product() && t.dtype() == e.dtype);
    }
    FUZZ_CHECK(covered <= size);
  } catch (const Error&) {
  }
  return 0;
}
