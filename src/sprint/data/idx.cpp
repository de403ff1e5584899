// idx.cpp: IDX image/label parsing with exact-length validation; file reading through file_io (raw or gzip).
#include "sprint/data/idx.h"

#include <cstring>

#include "sprint/core/error.h"
#include "sprint/data/file_io.h"

namespace sprint::data {
namespace {

uint32_t load_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// Checks the 4-byte magic and that the whole header is present.
void check_header(std::span<const uint8_t> bytes, std::string_view name, uint32_t magic, size_t header_bytes,
                  const char* kind) {
  if (bytes.size() < 4)
    SPRINT_THROW(FormatError, "{}: too short for an IDX header: the file has {} bytes", name, bytes.size());
  const uint32_t found = load_be32(bytes.data());
  if (found != magic) {
    const uint32_t other = magic == kIdxImagesMagic ? kIdxLabelsMagic : kIdxImagesMagic;
    SPRINT_THROW(FormatError, "{}: not an IDX {} file: magic number is 0x{:08x}, expected 0x{:08x}{}", name,
                 kind, found, magic,
                 found == other ? fmt::format(" (0x{:08x} is the magic of the other IDX kind)", other)
                                : std::string());
  }
  if (bytes.size() < header_bytes)
    SPRINT_THROW(FormatError, "{}: truncated header: an IDX {} header is {} bytes but the file has {} bytes",
                 name, kind, header_bytes, bytes.size());
}

// Exact-length check: 'what' describes the header's claim, e.g. "60000 images of 28x28".
void check_length(std::span<const uint8_t> bytes, std::string_view name, const std::string& what,
                  bool overflow, uint64_t expected) {
  if (overflow)
    SPRINT_THROW(FormatError,
                 "{}: truncated: header says {} (more than 2^64 bytes) but the file has {} bytes", name, what,
                 bytes.size());
  if (bytes.size() < expected)
    SPRINT_THROW(FormatError, "{}: truncated: header says {} ({} bytes) but the file has {} bytes", name,
                 what, expected, bytes.size());
  if (bytes.size() > expected)
    SPRINT_THROW(FormatError,
                 "{}: trailing bytes: header says {} ({} bytes) but the file has {} bytes ({} extra)", name,
                 what, expected, bytes.size(), bytes.size() - expected);
}

}  // namespace

Tensor parse_idx_images(std::span<const uint8_t> bytes, std::string_view name) {
  check_header(bytes, name, kIdxImagesMagic, 16, "image");
  const uint32_t n = load_be32(bytes.data() + 4), h = load_be32(bytes.data() + 8),
                 w = load_be32(bytes.data() + 12);
  if (n == 0 || h == 0 || w == 0)
    SPRINT_THROW(FormatError, "{}: header says {} images of {}x{}: every dimension must be > 0", name, n, h,
                 w);
  uint64_t pixels = 0, total = 0;
  const bool overflow = __builtin_mul_overflow(uint64_t{n}, uint64_t{h}, &pixels) ||
                        __builtin_mul_overflow(pixels, uint64_t{w}, &pixels) ||
                        __builtin_add_overflow(pixels, uint64_t{16}, &total);
  check_length(bytes, name, fmt::format("{} images of {}x{}", n, h, w), overflow, total);
  Tensor images = Tensor::empty({int64_t{n}, 1, int64_t{h}, int64_t{w}}, DType::kU8);
  std::memcpy(images.data(), bytes.data() + 16, static_cast<size_t>(pixels));
  return images;
}

Tensor parse_idx_labels(std::span<const uint8_t> bytes, std::string_view name,
                        std::optional<int64_t> num_classes) {
  SPRINT_CHECK(!num_classes || *num_classes > 0, "parse_idx_labels: num_classes must be > 0, got {}",
               num_classes.value_or(0));
  check_header(bytes, name, kIdxLabelsMagic, 8, "label");
  const uint32_t n = load_be32(bytes.data() + 4);
  if (n == 0) SPRINT_THROW(FormatError, "{}: header says 0 labels: the count must be > 0", name);
  check_length(bytes, name, fmt::format("{} labels", n), false, uint64_t{n} + 8);
  Tensor labels = Tensor::empty({int64_t{n}}, DType::kI32);
  int32_t* out = labels.data_as<int32_t>();
  const uint8_t* in = bytes.data() + 8;
  for (uint32_t i = 0; i < n; ++i) out[i] = in[i];
  if (num_classes) {
    for (uint32_t i = 0; i < n; ++i)
      if (in[i] >= *num_classes)
        SPRINT_THROW(FormatError, "{}: label {} of item {} is out of range: expected 0..{} ({} classes)",
                     name, in[i], i, *num_classes - 1, *num_classes);
  }
  return labels;
}

Tensor read_idx_images(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_maybe_gzipped(path);
  return parse_idx_images(bytes, path.string());
}

Tensor read_idx_labels(const std::filesystem::path& path, std::optional<int64_t> num_classes) {
  const std::vector<uint8_t> bytes = read_maybe_gzipped(path);
  return parse_idx_labels(bytes, path.string(), num_classes);
}

}  // namespace sprint::data
