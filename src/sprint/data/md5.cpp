// md5.cpp: MD5 per RFC 1321 section 3: pad to 448 mod 512 bits, append the 64-bit little-endian bit length,
// then four rounds of 16 operations per 512-bit block over the state (A, B, C, D).
#include "sprint/data/md5.h"

#include <algorithm>
#include <cstring>

#include "sprint/data/file_io.h"

namespace sprint::data {
namespace {

// T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4.
constexpr uint32_t kT[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

// Per-round left-rotation amounts s, RFC 1321 section 3.4.
constexpr int kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

inline uint32_t rotl(uint32_t x, int s) {
  return (x << s) | (x >> (32 - s));
}

inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

void Md5::reset() {
  // Initial words A, B, C, D (RFC 1321 section 3.3).
  state_ = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  n_bytes_ = 0;
  n_buffered_ = 0;
}

void Md5::transform(const uint8_t* block) {
  uint32_t x[16];
  for (int i = 0; i < 16; ++i) x[i] = load_le32(block + 4 * i);
  uint32_t a = state_[0], b = state_[1], c = state_[2], d = state_[3];
  for (int i = 0; i < 64; ++i) {
    const int round = i / 16;
    uint32_t f;
    int k;
    switch (round) {
      case 0:
        f = (b & c) | (~b & d), k = i;
        break;  // F(X,Y,Z) = XY v not(X) Z
      case 1:
        f = (b & d) | (c & ~d), k = (5 * i + 1) % 16;
        break;  // G(X,Y,Z) = XZ v Y not(Z)
      case 2:
        f = b ^ c ^ d, k = (3 * i + 5) % 16;
        break;  // H(X,Y,Z) = X xor Y xor Z
      default:
        f = c ^ (b | ~d), k = (7 * i) % 16;
        break;  // I(X,Y,Z) = Y xor (X v not(Z))
    }
    // a = b + ((a + f + X[k] + T[i]) <<< s), then rotate the roles (a, b, c, d) <- (d, a', b, c).
    const uint32_t rotated = b + rotl(a + f + x[k] + kT[i], kShift[round][i % 4]);
    a = d;
    d = c;
    c = b;
    b = rotated;
  }
  state_[0] += a;
  state_[1] += b;
  state_[2] += c;
  state_[3] += d;
}

void Md5::update(std::span<const uint8_t> bytes) {
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  n_bytes_ += n;
  if (n_buffered_ > 0) {
    const size_t take = std::min(n, 64 - n_buffered_);
    std::memcpy(buffer_.data() + n_buffered_, p, take);
    n_buffered_ += take;
    p += take;
    n -= take;
    if (n_buffered_ < 64) return;
    transform(buffer_.data());
    n_buffered_ = 0;
  }
  for (; n >= 64; p += 64, n -= 64) transform(p);
  if (n > 0) {
    std::memcpy(buffer_.data(), p, n);
    n_buffered_ = n;
  }
}

std::array<uint8_t, 16> Md5::finish_bytes() {
  // Padding: a single 1 bit, zeros up to 56 mod 64 bytes, then the bit length as 64-bit little-endian.
  const uint64_t n_bits = n_bytes_ * 8;
  uint8_t pad[72] = {0x80};
  const size_t pad_len = (n_buffered_ < 56 ? 56 : 120) - n_buffered_;
  for (int i = 0; i < 8; ++i) pad[pad_len + static_cast<size_t>(i)] = static_cast<uint8_t>(n_bits >> (8 * i));
  update(std::span<const uint8_t>(pad, pad_len + 8));
  std::array<uint8_t, 16> digest{};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      digest[static_cast<size_t>(4 * i + j)] = static_cast<uint8_t>(state_[i] >> (8 * j));
  reset();
  return digest;
}

std::string Md5::finish() {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::array<uint8_t, 16> digest = finish_bytes();
  std::string hex(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

std::string md5_hex(std::span<const uint8_t> bytes) {
  Md5 md5;
  md5.update(bytes);
  return md5.finish();
}

std::string md5_hex(std::string_view text) {
  Md5 md5;
  md5.update(text);
  return md5.finish();
}

std::string md5_file(const std::filesystem::path& path, bool gunzip) {
  Md5 md5;
  for_each_file_chunk(path, gunzip, [&](std::span<const uint8_t> chunk) { md5.update(chunk); });
  return md5.finish();
}

}  // namespace sprint::data
