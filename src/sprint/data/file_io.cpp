// file_io.cpp: whole-file reads, zlib gzip decompression (bounded, multi-member), chunked streaming and
// atomic writes for the data layer.
#include "sprint/data/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <zlib.h>

#include "sprint/core/error.h"
#include "sprint/data/output_file.h"

namespace sprint::data {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

std::string errno_text(int err) {
  return std::strerror(err);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_reading(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) SPRINT_THROW(IoError, "cannot open {}: {}", path.string(), errno_text(errno));
  return FilePtr(f);
}

// Incremental gzip decoder over zlib's inflate. Handles concatenated members; rejects trailing garbage.
class GzipDecoder {
 public:
  explicit GzipDecoder(std::string_view source_name) : name_(source_name) {
    std::memset(&zs_, 0, sizeof zs_);
    // 15 + 16: a 32 KiB window, gzip header and trailer only (no raw zlib/deflate streams).
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) SPRINT_THROW(OutOfMemory, "{}: zlib inflateInit2 failed", name_);
  }
  ~GzipDecoder() { inflateEnd(&zs_); }
  GzipDecoder(const GzipDecoder&) = delete;
  GzipDecoder& operator=(const GzipDecoder&) = delete;

  // Feeds `in`; calls emit(span) for every block of output. Returns when all input is consumed.
  template <class Emit>
  void feed(std::span<const uint8_t> in, uint8_t* out_buf, size_t out_cap, Emit&& emit) {
    size_t pos = 0;
    while (pos < in.size()) {
      if (member_done_) {
        // Another member must follow immediately, starting with the gzip magic.
        if (in[pos] != 0x1f || (pos + 1 < in.size() && in[pos + 1] != 0x8b))
          SPRINT_THROW(FormatError,
                       "{}: corrupt gzip stream: {} unexpected byte(s) after the end of the compressed data",
                       name_, in.size() - pos);
        if (inflateReset(&zs_) != Z_OK)
          SPRINT_THROW(FormatError, "{}: corrupt gzip stream (reset failed)", name_);
        member_done_ = false;
      }
      const size_t n_in = std::min<size_t>(in.size() - pos, 1u << 30);
      zs_.next_in = const_cast<Bytef*>(in.data() + pos);
      zs_.avail_in = static_cast<uInt>(n_in);
      while (zs_.avail_in > 0 && !member_done_) {
        zs_.next_out = out_buf;
        zs_.avail_out = static_cast<uInt>(out_cap);
        const uInt avail_before = zs_.avail_in;
        const int rc = inflate(&zs_, Z_NO_FLUSH);
        const size_t produced = out_cap - zs_.avail_out;
        if (produced) emit(std::span<const uint8_t>(out_buf, produced));
        if (rc == Z_STREAM_END) {
          member_done_ = true;
          any_member_ = true;
        } else if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR) {
          SPRINT_THROW(FormatError, "{}: corrupt gzip stream: {}", name_, zs_.msg ? zs_.msg : "invalid data");
        } else if (rc == Z_MEM_ERROR) {
          SPRINT_THROW(OutOfMemory, "{}: zlib ran out of memory while decompressing", name_);
        } else if (rc == Z_BUF_ERROR && produced == 0 && zs_.avail_in == avail_before) {
          // Cannot happen with input and output space available; never spin on it.
          SPRINT_THROW(FormatError, "{}: corrupt gzip stream: decoder made no progress", name_);
        }
      }
      pos += n_in - zs_.avail_in;
    }
  }

  // Call after the last input: throws when the stream ended in the middle of a member.
  void finish() const {
    if (!member_done_ || !any_member_)
      SPRINT_THROW(FormatError, "{}: corrupt gzip stream: truncated (the compressed data ends early)", name_);
  }

 private:
  std::string name_;
  z_stream zs_;
  bool member_done_ = false;
  bool any_member_ = false;
};

std::atomic<uint64_t> g_temp_counter{0};

}  // namespace

bool is_gzip(std::span<const uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  FilePtr f = open_for_reading(path);
  std::vector<uint8_t> bytes;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) bytes.reserve(static_cast<size_t>(size));
  uint8_t buffer[1 << 16];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof buffer, f.get());
    bytes.insert(bytes.end(), buffer, buffer + n);
    if (n < sizeof buffer) {
      if (std::ferror(f.get())) SPRINT_THROW(IoError, "cannot read {}: {}", path.string(), errno_text(errno));
      break;
    }
  }
  return bytes;
}

std::vector<uint8_t> gunzip(std::span<const uint8_t> compressed, std::string_view source_name,
                            size_t max_output) {
  if (!is_gzip(compressed)) SPRINT_THROW(FormatError, "{}: not a gzip stream (no 1f 8b magic)", source_name);
  std::vector<uint8_t> out;
  // The trailer's ISIZE (size mod 2^32 of the last member) is a hint only: it is untrusted and may wrap.
  if (compressed.size() >= 18) {
    const uint8_t* t = compressed.data() + compressed.size() - 4;
    const size_t hint = size_t{t[0]} | size_t{t[1]} << 8 | size_t{t[2]} << 16 | size_t{t[3]} << 24;
    out.reserve(std::min(hint, std::min(max_output, compressed.size() * 1032)));
  }
  std::vector<uint8_t> buffer(kChunkBytes);
  GzipDecoder decoder(source_name);
  decoder.feed(compressed, buffer.data(), buffer.size(), [&](std::span<const uint8_t> block) {
    if (out.size() + block.size() > max_output)
      SPRINT_THROW(FormatError, "{}: gzip stream decompresses to more than {} bytes (limit)", source_name,
                   max_output);
    out.insert(out.end(), block.begin(), block.end());
  });
  decoder.finish();
  return out;
}

std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path, size_t max_output) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  if (!is_gzip(bytes)) return bytes;
  return gunzip(bytes, path.string(), max_output);
}

void for_each_file_chunk(const std::filesystem::path& path, bool decompress,
                         const std::function<void(std::span<const uint8_t>)>& consume) {
  FilePtr f = open_for_reading(path);
  std::vector<uint8_t> in(kChunkBytes);
  std::vector<uint8_t> out(decompress ? kChunkBytes : 0);
  std::unique_ptr<GzipDecoder> decoder;
  if (decompress) decoder = std::make_unique<GzipDecoder>(path.string());
  bool first = true;
  while (true) {
    const size_t n = std::fread(in.data(), 1, in.size(), f.get());
    if (n == 0 && std::ferror(f.get()))
      SPRINT_THROW(IoError, "cannot read {}: {}", path.string(), errno_text(errno));
    const std::span<const uint8_t> chunk(in.data(), n);
    if (decompress) {
      if (first && !is_gzip(chunk))
        SPRINT_THROW(FormatError, "{}: not a gzip file (no 1f 8b magic)", path.string());
      decoder->feed(chunk, out.data(), out.size(), consume);
    } else if (n > 0) {
      consume(chunk);
    }
    first = false;
    if (n < in.size()) {
      if (std::ferror(f.get())) SPRINT_THROW(IoError, "cannot read {}: {}", path.string(), errno_text(errno));
      break;
    }
  }
  if (decoder) decoder->finish();
}

std::filesystem::path temp_sibling(const std::filesystem::path& path) {
  const uint64_t n = g_temp_counter.fetch_add(1);
  std::string name = ".";  // built by appending: GCC 12 warns falsely (-Wrestrict) on "." + std::string
  name += path.filename().string();
  name += fmt::format(".tmp-{}-{}", ::getpid(), n);
  return path.parent_path() / name;
}

void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  write_output_file(path, bytes);
}

void sync_directory_of(const std::filesystem::path& path) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) SPRINT_THROW(IoError, "cannot open directory {} to sync it: {}", dir.string(), errno_text(errno));
  const int rc = ::fsync(fd), err = errno;
  ::close(fd);
  if (rc != 0) SPRINT_THROW(IoError, "cannot sync directory {}: {}", dir.string(), errno_text(err));
}

}  // namespace sprint::data
