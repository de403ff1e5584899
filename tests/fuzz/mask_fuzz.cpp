// mask_fuzz.cpp: fuzz target for the sparse-training files: the mask file (train::parse_mask) and a small checkpoint
// put on a fixed base (train::expand_sparse_weights). Malformed input must end in a sprint::Error; an accepted mask
// must count at most its entries and hash as it did when read, and an expanded checkpoint must keep the base's
// tensors, shapes and dtypes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.h"
#include "sprint/core/error.h"
#include "sprint/data/safetensors.h"
#include "sprint/train/parameter_mask.h"
#include "sprint/train/sparse_checkpoint.h"

namespace {

// The base every fuzzed small checkpoint is put on: "w" f32 (2, 3), "bn.running_mean" f32 (2).
const sprint::data::SafetensorsFile& base() {
  using namespace sprint;
  static const data::SafetensorsFile file = [] {
    const Tensor w = Tensor::from_values(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor m = Tensor::from_values(std::vector<float>{0, 1}, {2});
    return data::SafetensorsFile(data::encode_safetensors({{"w", w}, {"bn.running_mean", m}}, {{"format", "pt"}}),
                                 "base.safetensors");
  }();
  return file;
}

}  // namespace

extern "C" int SPRINT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace sprint;
  std::vector<uint8_t> bytes(data, data + size);
  try {
    const data::SafetensorsFile file(bytes, "fuzz.safetensors");
    try {
      const train::ParameterMask m = train::parse_mask(file);
      FUZZ_CHECK(m.kept() <= m.total() && m.entries.size() == file.entries().size());
      FUZZ_CHECK(m.hash() == file.metadata_value("hash"));
    } catch (const Error&) {
    }
    const data::SafetensorsFile full = train::expand_sparse_weights(file, base());
    FUZZ_CHECK(full.entries().size() == base().entries().size());
    for (const data::SafetensorsFile::Entry& e : base().entries()) {
      const data::SafetensorsFile::Entry* got = full.find(e.name);
      FUZZ_CHECK(got != nullptr && got->shape == e.shape && got->dtype == e.dtype);
    }
  } catch (const Error&) {
  }
  return 0;
}
