// idx.h: reader for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/).
// Image files: big-endian magic 0x00000803, then N, H, W (u32 each), then N·H·W bytes. Label files: magic
// 0x00000801, then N, then N bytes. Files may be raw or gzip. Every defect is a FormatError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>

#include "sprint/core/tensor.h"

namespace sprint::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;

/// Parses an IDX image file held in memory. Returns a host u8 tensor (N, 1, H, W). Requires the magic, N, H,
/// W > 0 and exactly 16 + N·H·W bytes (truncated and trailing bytes are both errors). `source_name` names the
/// file in messages. Throws FormatError.
Tensor parse_idx_images(std::span<const uint8_t> bytes, std::string_view source_name);

/// Parses an IDX label file held in memory. Returns a host i32 tensor (N). Requires the magic, N > 0, exactly
/// 8 + N bytes and, when `num_classes` is given, every label < num_classes. Throws FormatError.
Tensor parse_idx_labels(std::span<const uint8_t> bytes, std::string_view source_name,
                        std::optional<int64_t> num_classes = std::nullopt);

/// Reads and parses an IDX image file, raw or gzip (detected by its 1f 8b magic, not by the name).
/// IoError when the file is missing or unreadable, FormatError when it is malformed or a corrupt gzip stream.
Tensor read_idx_images(const std::filesystem::path& path);
/// As read_idx_images, for label files.
Tensor read_idx_labels(const std::filesystem::path& path, std::optional<int64_t> num_classes = std::nullopt);

}  // namespace sprint::data
