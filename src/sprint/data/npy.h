// npy.h: reader and writer for NumPy's .npy format (numpy.lib.format, versions 1.0 to 3.0): the magic
// "\x93NUMPY", a version, a little-endian header length (2 bytes in 1.0, 4 in 2.0/3.0), a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, C, H, W), } padded to a 64-byte boundary, then the data
// in C order. sprint reads little-endian f32, f64, i32, i64 and u8 arrays in C order and writes f32.
// Every defect (bad magic or version, header past the end, a dict that does not parse, an unknown dtype, Fortran
// order, a byte count that disagrees with the shape) is a FormatError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "sprint/core/tensor.h"

namespace sprint::data {

/// Parses an .npy file held in memory into a new contiguous host tensor. `source` names it in messages.
Tensor parse_npy(std::span<const uint8_t> bytes, std::string_view source);
/// Reads and parses `path` (IoError when unreadable).
Tensor read_npy(const std::filesystem::path& path);
/// The .npy (version 1.0) bytes of a contiguous host tensor of a dtype the reader knows.
std::vector<uint8_t> encode_npy(const Tensor& tensor);
/// Writes encode_npy(tensor) to `path` atomically.
void write_npy(const std::filesystem::path& path, const Tensor& tensor);

}  // namespace sprint::data
