// tfrecord.cpp: TFRecord framing (see tfrecord.h).
#include "sprint/profile/tfrecord.h"

#include <cstdint>

#include "sprint/profile/crc32c.h"

namespace sprint::profile {
namespace {

template <class U>
std::string little_endian(U value) {
  std::string bytes(sizeof(U), '\0');
  for (size_t i = 0; i < sizeof(U); ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xFFu);
  return bytes;
}

}  // namespace

void append_tfrecord(std::string& out, std::string_view payload) {
  const std::string length = little_endian<uint64_t>(payload.size());
  out += length;
  out += little_endian<uint32_t>(mask_crc32c(crc32c(length)));
  out += payload;
  out += little_endian<uint32_t>(mask_crc32c(crc32c(payload)));
}

}  // namespace sprint::profile
