// data_test_util.h: builders for the data-layer tests: IDX files, gzip (zlib), PNG images (libpng) and
// CIFAR-10 records, all generated in memory so the tests need no downloaded data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sprint::testing {

/// Big-endian IDX image file: magic 0x00000803, n, h, w, then pixel(i, p) for image i, pixel p = y·w + x.
std::string idx_images(uint32_t n, uint32_t h, uint32_t w, uint8_t (*pixel)(uint32_t i, uint32_t p));
/// IDX label file: magic 0x00000801, n, labels.
std::string idx_labels(const std::vector<uint8_t>& labels);
/// A header with arbitrary magic and dims followed by `payload_bytes` zero bytes.
std::string idx_raw(uint32_t magic, const std::vector<uint32_t>& dims, size_t payload_bytes);

/// gzip (zlib deflate, windowBits 31) of `raw`.
std::string gzip(const std::string& raw);

/// CIFAR-10 binary records: record i has label labels[i] and image byte k = pixel(i, k) (k in 0..3071).
std::string cifar_records(const std::vector<uint8_t>& labels, uint8_t (*pixel)(uint32_t i, uint32_t k));

/// PNG (libpng) of `width` x `height` with colour type / bit depth; `pixels` holds height rows of
/// width · channels(color_type) · bit_depth / 8 bytes. Adam7-interlaced when `interlace` is set.
std::string png(uint32_t width, uint32_t height, int color_type, int bit_depth,
                const std::vector<uint8_t>& pixels, bool interlace = false);

}  // namespace sprint::testing
