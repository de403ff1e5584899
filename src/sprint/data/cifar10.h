// cifar10.h: reader for the CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html).
// A batch file is a sequence of 3073-byte records: 1 label byte (0..9), then 1024 R, 1024 G and 1024 B bytes
// of a 32x32 image in row-major order, i.e. one (3, 32, 32) planar image. Official files hold exactly 10,000
// records.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sprint/core/tensor.h"

namespace sprint::data {

inline constexpr int64_t kCifar10ImageBytes = 3 * 32 * 32;              ///< 3072
inline constexpr int64_t kCifar10RecordBytes = 1 + kCifar10ImageBytes;  ///< 3073
inline constexpr int64_t kCifar10RecordsPerBatch = 10000;               ///< official files: 30,730,000 bytes
inline constexpr int64_t kCifar10Classes = 10;

struct Cifar10Batch {
  Tensor images;  ///< u8 (N, 3, 32, 32)
  Tensor labels;  ///< i32 (N), each in 0..9
};

/// Parses a batch held in memory. The length must be a non-zero multiple of 3073 and, when `expected_records`
/// is given, exactly that many records; every label byte must be < 10. Throws FormatError naming
/// `source_name`.
Cifar10Batch parse_cifar10_batch(std::span<const uint8_t> bytes, std::string_view source_name,
                                 std::optional<int64_t> expected_records = kCifar10RecordsPerBatch);

/// Reads and parses a batch file (IoError when missing or unreadable).
Cifar10Batch read_cifar10_batch(const std::filesystem::path& path,
                                std::optional<int64_t> expected_records = kCifar10RecordsPerBatch);

/// Validates the length of a batch (parse_cifar10_batch's rules) and returns its number of records N.
int64_t count_cifar10_records(std::span<const uint8_t> bytes, std::string_view source_name,
                              std::optional<int64_t> expected_records = kCifar10RecordsPerBatch);

/// Decodes the N = count_cifar10_records(bytes) records straight into caller-owned buffers: `images` of
/// N·3072 bytes and `labels` of N entries. Throws FormatError on a label >= 10.
void decode_cifar10_records(std::span<const uint8_t> bytes, std::string_view source_name, uint8_t* images,
                            int32_t* labels);

/// Class names from batches.meta.txt text: one per line, empty (or all-blank) lines skipped, '\r' and
/// trailing blanks stripped; exactly 10 names. Throws FormatError naming `source_name`.
std::vector<std::string> parse_cifar10_meta(std::string_view text, std::string_view source_name);
/// Reads batches.meta.txt (IoError when missing) and parses it as parse_cifar10_meta.
std::vector<std::string> read_cifar10_meta(const std::filesystem::path& path);

}  // namespace sprint::data
