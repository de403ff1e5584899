// crc32c.h: CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF),
// the checksum of TFRecord framing, written from the definition with a 256-entry table. Plus TFRecord's
// masked form.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sprint::profile {

/// CRC-32C of `bytes`. crc32c("123456789") == 0xE3069283. Streaming: crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t previous = 0);
uint32_t crc32c(std::string_view bytes, uint32_t previous = 0);

/// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, so that a CRC over data holding CRCs
/// stays well distributed.
constexpr uint32_t mask_crc32c(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace sprint::profile
