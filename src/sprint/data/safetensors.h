// safetensors.h: reader and writer for the safetensors format (https://huggingface.co/docs/safetensors): an
// 8-byte little-endian header length N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}}, then the raw little-endian tensor bytes,
// offsets relative to the end of the header. PyTorch's safetensors.torch.save_file writes this; so does sprint.
//
// The reader trusts nothing: every defect (truncation, a header length past the end, JSON that is not an object
// of the expected shape, nesting deeper than the format uses, duplicate names, an unknown dtype, a shape whose
// byte count disagrees with its offsets, offsets out of range, overlapping or leaving holes) is a FormatError
// naming the file and, where one is involved, the tensor. Nothing is allocated beyond the file's own size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sprint/core/tensor.h"

namespace sprint::data {

/// Largest header the reader accepts (the format's own reference implementation uses the same 100 MB bound).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

/// A tensor to write: contiguous host tensor of a dtype safetensors knows (every sprint dtype).
struct NamedTensor {
  std::string name;
  Tensor value;
};

/// A parsed file: the whole file's bytes and, per tensor, where its data lies in them.
class SafetensorsFile {
 public:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin = 0;  ///< byte offset in the file (header included)
    uint64_t size = 0;   ///< bytes
  };

  /// Validates `bytes` (see the file comment); `source` names the file in messages.
  SafetensorsFile(std::vector<uint8_t> bytes, std::string source);

  const std::string& source() const { return source_; }
  /// Tensors in the order of their data in the file.
  const std::vector<Entry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// The entry called `name`, or null.
  const Entry* find(std::string_view name) const;
  /// A new contiguous host tensor with the entry's values.
  Tensor tensor(const Entry& entry) const;
  /// The tensor called `name`; FormatError naming the file when it is absent.
  Tensor tensor(std::string_view name) const;
  /// The entry's raw bytes.
  std::span<const uint8_t> bytes(const Entry& entry) const;
  /// Metadata value of `key`, or `fallback` when absent.
  std::string metadata_value(const std::string& key, const std::string& fallback = "") const;

 private:
  std::vector<uint8_t> bytes_;
  std::string source_;
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

/// safetensors dtype code ("F32", "BF16", "I64", ...) of a sprint dtype.
std::string_view safetensors_dtype_code(DType dtype);

/// Reads and validates `path`. IoError when it cannot be read, FormatError when it is malformed.
SafetensorsFile read_safetensors(const std::filesystem::path& path);

/// The bytes of a safetensors file holding `tensors` (in this order, names unique and not "__metadata__") and
/// `metadata`. Tensors must be contiguous host tensors. The header is padded with spaces to a multiple of 8 bytes
/// so that the data is aligned, as the reference writer does.
std::vector<uint8_t> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                        const std::map<std::string, std::string>& metadata);

/// Writes encode_safetensors(...) to `path` atomically and durably (write_file_atomic).
void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata);

}  // namespace sprint::data
