// md5.h: MD5 message digest (RFC 1321), written from the RFC. Used only to verify downloaded data sets
// against published checksums (datasets.md); it is not a security primitive.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace sprint::data {

/// Streaming MD5: update() any number of times, then finish(). finish() resets the object for a new message.
class Md5 {
 public:
  Md5() { reset(); }

  void reset();
  void update(std::span<const uint8_t> bytes);
  void update(std::string_view text) {
    update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  }
  /// The 16-byte digest of everything passed to update() since the last reset.
  std::array<uint8_t, 16> finish_bytes();
  /// The digest as 32 lower-case hex characters.
  std::string finish();

 private:
  void transform(const uint8_t* block);

  std::array<uint32_t, 4> state_{};
  uint64_t n_bytes_ = 0;              // message length so far
  std::array<uint8_t, 64> buffer_{};  // partial block
  size_t n_buffered_ = 0;
};

/// MD5 of `bytes` as 32 lower-case hex characters.
std::string md5_hex(std::span<const uint8_t> bytes);
std::string md5_hex(std::string_view text);

/// MD5 of a file's content, streamed in chunks. With `gunzip` set the file must be gzip and the digest is of
/// the decompressed bytes (how datasets.md lists Fashion-MNIST). IoError if unreadable, FormatError if
/// corrupt.
std::string md5_file(const std::filesystem::path& path, bool gunzip = false);

}  // namespace sprint::data
