// file_io.h: byte-level file helpers for the data layer: whole-file reads, gzip detection and bounded
// decompression (zlib), chunked streaming reads (raw or gunzipped) and atomic writes (temp name + rename).
// Errors: a missing or unreadable file is an IoError naming the path; a corrupt gzip stream is a FormatError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sprint::data {

/// Upper bound on what one gzip file may decompress to (guards against decompression bombs). 1 GiB: the
/// largest file sprint reads (MNIST train images) is 47 MB.
inline constexpr size_t kMaxDecompressedBytes = size_t{1} << 30;

/// True when `bytes` start with the gzip magic 1f 8b.
bool is_gzip(std::span<const uint8_t> bytes);

/// Whole file into memory. Throws IoError naming `path` if it is missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

/// Decompresses a gzip stream (one or more members). Throws FormatError naming `source_name` when the stream
/// is corrupt or truncated, has trailing non-gzip bytes, or would exceed `max_output` bytes.
std::vector<uint8_t> gunzip(std::span<const uint8_t> compressed, std::string_view source_name,
                            size_t max_output = kMaxDecompressedBytes);

/// Reads `path`; if it is gzip (by magic, not by name) returns the decompressed bytes (bounded as gunzip).
std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path,
                                        size_t max_output = kMaxDecompressedBytes);

/// Streams `path` to `consume` in chunks of at most 1 MiB. With `decompress` set the file must be gzip and
/// the chunks are the decompressed bytes (FormatError on a corrupt stream). Nothing is held in memory beyond
/// a chunk.
void for_each_file_chunk(const std::filesystem::path& path, bool decompress,
                         const std::function<void(std::span<const uint8_t>)>& consume);

/// Writes `bytes` to `path` atomically and durably (output_file.h's write_output_file): to a temporary name in the
/// same directory, fsync, rename() into place, fsync of the directory; symbolic links followed, pipes and devices
/// written as streams. A crash at any point leaves either the old file or the new one, never a mix. On failure
/// the temporary is removed and `path` is untouched. Throws IoError.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

/// fsync()s the directory holding `path`, making a rename or unlink in it durable. Throws IoError.
void sync_directory_of(const std::filesystem::path& path);

/// A temporary sibling name for `path` ("<dir>/.<name>.tmp-<pid>-<n>"), unique within the process.
std::filesystem::path temp_sibling(const std::filesystem::path& path);

}  // namespace sprint::data
