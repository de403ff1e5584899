// cifar10.cpp: CIFAR-10 binary records -> (N, 3, 32, 32) u8 images + i32 labels, and batches.meta.txt.
#include "sprint/data/cifar10.h"

#include <cstring>

#include "sprint/core/error.h"
#include "sprint/data/file_io.h"

namespace sprint::data {

int64_t count_cifar10_records(std::span<const uint8_t> bytes, std::string_view name,
                              std::optional<int64_t> expected) {
  SPRINT_CHECK(!expected || *expected > 0, "count_cifar10_records: expected_records must be > 0");
  const auto size = static_cast<int64_t>(bytes.size());
  if (size == 0) SPRINT_THROW(FormatError, "{}: empty file: a CIFAR-10 batch holds 3073-byte records", name);
  if (size % kCifar10RecordBytes != 0)
    SPRINT_THROW(
        FormatError,
        "{}: the file has {} bytes, not a multiple of the 3073-byte CIFAR-10 record ({} whole records and {} "
        "bytes left over: truncated or not a CIFAR-10 binary batch)",
        name, size, size / kCifar10RecordBytes, size % kCifar10RecordBytes);
  const int64_t n = size / kCifar10RecordBytes;
  if (expected && n != *expected)
    SPRINT_THROW(FormatError, "{}: the file has {} records ({} bytes) but a CIFAR-10 batch has {} ({} bytes)",
                 name, n, size, *expected, *expected * kCifar10RecordBytes);
  return n;
}

void decode_cifar10_records(std::span<const uint8_t> bytes, std::string_view name, uint8_t* images,
                            int32_t* labels) {
  const int64_t n = static_cast<int64_t>(bytes.size()) / kCifar10RecordBytes;
  const uint8_t* record = bytes.data();
  for (int64_t i = 0; i < n; ++i, record += kCifar10RecordBytes) {
    if (record[0] >= kCifar10Classes)
      SPRINT_THROW(FormatError, "{}: record {} (byte offset {}) has label {}: expected 0..9", name, i,
                   i * kCifar10RecordBytes, record[0]);
    labels[i] = record[0];
    std::memcpy(images + i * kCifar10ImageBytes, record + 1, kCifar10ImageBytes);
  }
}

Cifar10Batch parse_cifar10_batch(std::span<const uint8_t> bytes, std::string_view name,
                                 std::optional<int64_t> expected_records) {
  const int64_t n = count_cifar10_records(bytes, name, expected_records);
  Cifar10Batch batch{Tensor::empty({n, 3, 32, 32}, DType::kU8), Tensor::empty({n}, DType::kI32)};
  decode_cifar10_records(bytes, name, batch.images.data_as<uint8_t>(), batch.labels.data_as<int32_t>());
  return batch;
}

Cifar10Batch read_cifar10_batch(const std::filesystem::path& path, std::optional<int64_t> expected_records) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_cifar10_batch(bytes, path.string(), expected_records);
}

std::vector<std::string> parse_cifar10_meta(std::string_view text, std::string_view name) {
  std::vector<std::string> names;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty()) continue;
    for (char c : line)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f)
        SPRINT_THROW(FormatError, "{}: line {} holds a control character (0x{:02x}): not a class-name list",
                     name, line_no, static_cast<unsigned char>(c));
    names.emplace_back(line);
  }
  if (names.size() != static_cast<size_t>(kCifar10Classes))
    SPRINT_THROW(FormatError, "{}: expected 10 class names (one per line), found {}", name, names.size());
  return names;
}

std::vector<std::string> read_cifar10_meta(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_cifar10_meta(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                            path.string());
}

}  // namespace sprint::data
