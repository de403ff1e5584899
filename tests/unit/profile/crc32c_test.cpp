// crc32c_test.cpp: CRC-32C against its published check value and RFC 3720 (iSCSI) B.4 vectors, streaming, the
// TFRecord mask, and the table against tests/support's bit-by-bit implementation on random data.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "sprint/profile/crc32c.h"
#include "support/tfrecord_reader.h"

namespace sprint::profile {
namespace {

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);  // 32 bytes of ones
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending += static_cast<char>(i);
    descending += static_cast<char>(31 - i);
  }
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
}

TEST(Crc32c, StreamsAcrossCalls) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (size_t cut = 0; cut <= text.size(); cut += 7)
    EXPECT_EQ(crc32c(std::string_view(text).substr(cut), crc32c(std::string_view(text).substr(0, cut))),
              crc32c(text));
}

TEST(Crc32c, TableMatchesTheBitwiseDefinition) {
  std::mt19937 rng(7);
  for (int n : {1, 2, 3, 15, 16, 17, 255, 1000}) {
    std::string bytes(static_cast<size_t>(n), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(crc32c(bytes), testing::crc32c_bitwise(bytes)) << n << " bytes";
  }
}

TEST(Crc32c, MaskRotatesAndAdds) {
  EXPECT_EQ(mask_crc32c(0u), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(1u), (1u << 17) + 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(1u << 15), 1u + 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0xE3069283u), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
}

}  // namespace
}  // namespace sprint::profile
