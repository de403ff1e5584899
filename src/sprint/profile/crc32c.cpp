// crc32c.cpp: table-driven CRC-32C, one byte per step (an event file is a few kilobytes per epoch).
#include "sprint/profile/crc32c.h"

#include <array>

namespace sprint::profile {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // 0x1EDC6F41 bit-reversed

constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = make_table();

}  // namespace

uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t previous) {
  uint32_t c = ~previous;
  for (const uint8_t b : bytes) c = kTable[(c ^ b) & 0xFFu] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c(std::string_view bytes, uint32_t previous) {
  return crc32c(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
                previous);
}

}  // namespace sprint::profile
