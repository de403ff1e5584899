// npy_fuzz.cpp: fuzz target for the .npy reader. Malformed input must end in a sprint::Error; an accepted file's
// tensor must account for every data byte, and re-encoding it must parse back to the same shape.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "sprint/core/error.h"
#include "sprint/data/npy.h"

extern "C" int SPRINT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace sprint;
  try {
    const Tensor t = data::parse_npy(std::span<const uint8_t>(data, size), "fuzz.npy");
    FUZZ_CHECK(static_cast<size_t>(t.numel()) * dtype_size(t.dtype()) <= size);
    const Tensor back = data::parse_npy(data::encode_npy(t), "fuzz-reencoded.npy");
    FUZZ_CHECK(back.shape() == t.shape() && back.dtype() == t.dtype());
  } catch (const Error&) {
  }
  return 0;
}
