// md5_test.cpp: MD5 against the RFC 1321 test suite (appendix A.5), padding-boundary lengths (oracle:
// Python's hashlib), streaming in uneven chunks, and md5_file on raw and gzip files.
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "sprint/core/error.h"
#include "sprint/data/md5.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {

TEST(Md5, Rfc1321TestSuite) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5, PaddingBoundaries) {
  const std::pair<size_t, const char*> cases[] = {
      {55, "ef1772b6dff9a122358552954ad0df65"},  {56, "3b0c8ac703f828b04c6c197006d17218"},
      {57, "652b906d60af96844ebd21b674f35e93"},  {63, "b06521f39153d618550606be297466d5"},
      {64, "014842d480b571495a4a0363793f7367"},  {65, "c743a45e0d2e6a95cb859adae0248435"},
      {119, "8a7bd0732ed6a28ce75f6dabc90e1613"}, {120, "5f61c0ccad4cac44c75ff505e1f1e537"},
      {127, "020406e1d05cdc2aa287641f7ae2cc39"}, {128, "e510683b3f5ffe4093d021808bc6ff70"},
      {129, "b325dc1c6f5e7a2b7cf465b9feab7948"}, {1000, "cabe45dcc9ae5b66ba86600cca6b8ba8"}};
  for (const auto& [n, md5] : cases) EXPECT_EQ(md5_hex(std::string(n, 'a')), md5) << n << " bytes";
}

TEST(Md5, MillionAs) {
  EXPECT_EQ(md5_hex(std::string(1000000, 'a')), "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(Md5, StreamingInUnevenChunksMatchesOneShot) {
  std::string data;
  for (int i = 0; i < 10; ++i)
    for (int b = 0; b < 256; ++b) data.push_back(static_cast<char>(b));
  ASSERT_EQ(md5_hex(data), "9aec5fa312feff7a1d15b135181ffe04");
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Md5 md5;
    for (size_t pos = 0; pos < data.size(); pos += chunk)
      md5.update(std::string_view(data).substr(pos, std::min(chunk, data.size() - pos)));
    EXPECT_EQ(md5.finish(), "9aec5fa312feff7a1d15b135181ffe04") << "chunk " << chunk;
  }
}

TEST(Md5, FinishResetsForTheNextMessage) {
  Md5 md5;
  md5.update("garbage");
  (void)md5.finish();
  md5.update("abc");
  EXPECT_EQ(md5.finish(), "900150983cd24fb0d6963f7d28e17f72");
  const std::array<uint8_t, 16> digest = [] {
    Md5 m;
    m.update("abc");
    return m.finish_bytes();
  }();
  EXPECT_EQ(digest[0], 0x90);
  EXPECT_EQ(digest[15], 0x72);
}

TEST(Md5, FileRawAndGunzipped) {
  testing::TempDir dir;
  std::string big(3 << 20, '\0');  // spans several 1 MiB read chunks
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 31) ^ (i >> 11));
  testing::write_file(dir.path() / "raw.bin", big);
  testing::write_file(dir.path() / "data.gz", testing::gzip(big));
  const std::string expected = md5_hex(big);
  EXPECT_EQ(md5_file(dir.path() / "raw.bin"), expected);
  EXPECT_EQ(md5_file(dir.path() / "data.gz", /*gunzip=*/true), expected);
  EXPECT_NE(md5_file(dir.path() / "data.gz"), expected);              // the compressed bytes hash differently
  EXPECT_THROW(md5_file(dir.path() / "raw.bin", true), FormatError);  // not gzip
  try {
    md5_file(dir.path() / "absent.bin");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("absent.bin"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sprint::data
