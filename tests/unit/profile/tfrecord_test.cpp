// tfrecord_test.cpp: TFRecord framing byte by byte, and read back by tests/support's independent reader,
// which checks both masked CRCs (and notices a flipped bit).
#include <gtest/gtest.h>

#include <string>

#include "sprint/profile/crc32c.h"
#include "sprint/profile/tfrecord.h"
#include "support/tfrecord_reader.h"

namespace sprint::profile {
namespace {

uint64_t le(const std::string& s, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}

TEST(TfRecord, LayoutOfOneRecord) {
  std::string out;
  append_tfrecord(out, "abc");
  ASSERT_EQ(out.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(out.substr(0, 8), std::string("\x03\x00\x00\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(le(out, 8, 4), mask_crc32c(testing::crc32c_bitwise(out.substr(0, 8))));
  EXPECT_EQ(out.substr(12, 3), "abc");
  EXPECT_EQ(le(out, 15, 4), mask_crc32c(testing::crc32c_bitwise("abc")));
}

TEST(TfRecord, RecordsReadBackWithBothCrcsChecked) {
  const std::string payloads[] = {"", "x", std::string(1000, 'y'), std::string("\x00\x01\xff", 3)};
  std::string file;
  for (const std::string& p : payloads) append_tfrecord(file, p);
  std::vector<std::string> back;
  ASSERT_NO_THROW(back = testing::read_tfrecords(file));
  ASSERT_EQ(back.size(), std::size(payloads));
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i], payloads[i]) << i;
}

TEST(TfRecord, TheTestReaderRejectsDamage) {
  std::string file;
  append_tfrecord(file, "payload");
  std::string bad_length = file;
  bad_length[0] ^= 0x01;
  EXPECT_THROW(testing::read_tfrecords(bad_length), std::runtime_error);
  std::string bad_payload = file;
  bad_payload[13] ^= 0x20;
  EXPECT_THROW(testing::read_tfrecords(bad_payload), std::runtime_error);
  EXPECT_THROW(testing::read_tfrecords(file.substr(0, file.size() - 1)), std::runtime_error);
}

}  // namespace
}  // namespace sprint::profile
