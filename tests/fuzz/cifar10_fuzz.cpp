// cifar10_fuzz.cpp: fuzz target for the CIFAR-10 readers: the first byte picks binary records, the meta file,
// the JSON labels, or the PNG -> records conversion (labels from the second byte). Malformed input must end
// in a sprint::Error; accepted input must give results consistent with it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "sprint/core/error.h"
#include "sprint/data/cifar10.h"
#include "sprint/data/png_convert.h"

extern "C" int SPRINT_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace sprint;
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(rest.data()), rest.size());
  try {
    switch (data[0] % 4) {
      case 0: {
        const data::Cifar10Batch b = data::parse_cifar10_batch(rest, "fuzz.bin", std::nullopt);
        FUZZ_CHECK(b.images.dim(0) * data::kCifar10RecordBytes == static_cast<int64_t>(rest.size()));
        FUZZ_CHECK(b.labels.dim(0) == b.images.dim(0));
        for (int64_t i = 0; i < b.labels.numel(); ++i)
          FUZZ_CHECK(b.labels.data_as<int32_t>()[i] ==
                     rest[static_cast<size_t>(i * data::kCifar10RecordBytes)]);
        break;
      }
      case 1: {
        const std::vector<std::string> names = data::parse_cifar10_meta(text, "fuzz.meta.txt");
        FUZZ_CHECK(names.size() == 10);
        for (const std::string& n : names) FUZZ_CHECK(!n.empty());
        break;
      }
      case 2: {
        const std::vector<uint8_t> labels = data::parse_cifar10_json_labels(text, "fuzz.json");
        for (uint8_t l : labels) FUZZ_CHECK(l < 10);
        break;
      }
      default: {
        if (rest.empty()) break;
        const std::vector<uint8_t> labels(rest[0] % 5 + 1, static_cast<uint8_t>(rest[0] % 10));
        const std::vector<uint8_t> records =
            data::cifar10_png_to_records(rest.subspan(1), labels, "fuzz.png");
        FUZZ_CHECK(records.size() == labels.size() * static_cast<size_t>(data::kCifar10RecordBytes));
        for (size_t i = 0; i < labels.size(); ++i)
          FUZZ_CHECK(records[i * static_cast<size_t>(data::kCifar10RecordBytes)] == labels[i]);
        break;
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
