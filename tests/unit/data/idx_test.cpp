// idx_test.cpp: IDX images/labels, raw and gzip: valid files, and every defect the reader must report with a
// FormatError naming the file (wrong magic, truncated, trailing bytes, zero dims, bad labels, corrupt gzip).
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "sprint/core/error.h"
#include "sprint/data/file_io.h"
#include "sprint/data/idx.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {

uint8_t pattern(uint32_t i, uint32_t p) {
  return static_cast<uint8_t>(i * 8 + p);
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Runs f, expects an exception of type E whose message contains every one of `parts`.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << *parts.begin() << "\"";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(what.find(p), std::string::npos) << "missing \"" << p << "\" in: " << what;
  }
}

TEST(Idx, ParsesImagesAndLabels) {
  const std::string file = testing::idx_images(3, 2, 4, pattern);
  const Tensor images = parse_idx_images(bytes_of(file), "x");
  EXPECT_EQ(images.shape(), (Shape{3, 1, 2, 4}));
  EXPECT_EQ(images.dtype(), DType::kU8);
  const std::vector<int32_t> v = images.to_vector<int32_t>();
  for (int i = 0; i < 3; ++i)
    for (int p = 0; p < 8; ++p) EXPECT_EQ(v[static_cast<size_t>(i * 8 + p)], i * 8 + p);
  const Tensor labels = parse_idx_labels(bytes_of(testing::idx_labels({7, 0, 9})), "y", 10);
  EXPECT_EQ(labels.shape(), (Shape{3}));
  EXPECT_EQ(labels.dtype(), DType::kI32);
  EXPECT_EQ(labels.to_vector<int32_t>(), (std::vector<int32_t>{7, 0, 9}));
}

TEST(Idx, ReadsRawAndGzipFilesByMagicNotName) {
  testing::TempDir dir;
  const std::string images = testing::idx_images(5, 3, 3, pattern);
  const std::string labels = testing::idx_labels({1, 2, 3, 4, 5});
  testing::write_file(dir.path() / "img-raw", images);
  testing::write_file(dir.path() / "img.gz", testing::gzip(images));
  testing::write_file(dir.path() / "img-gz-without-suffix", testing::gzip(images));
  testing::write_file(dir.path() / "lbl.gz", testing::gzip(labels));
  const std::vector<int32_t> expected = parse_idx_images(bytes_of(images), "x").to_vector<int32_t>();
  for (const char* name : {"img-raw", "img.gz", "img-gz-without-suffix"}) {
    const Tensor t = read_idx_images(dir.path() / name);
    EXPECT_EQ(t.shape(), (Shape{5, 1, 3, 3})) << name;
    EXPECT_EQ(t.to_vector<int32_t>(), expected) << name;
  }
  EXPECT_EQ(read_idx_labels(dir.path() / "lbl.gz", 10).to_vector<int32_t>(),
            (std::vector<int32_t>{1, 2, 3, 4, 5}));
}

TEST(Idx, WrongMagic) {
  const std::string labels = testing::idx_labels({1, 2});
  expect_error<FormatError>([&] { parse_idx_images(bytes_of(labels), "train-images-idx3-ubyte"); },
                            {"train-images-idx3-ubyte: not an IDX image file", "magic number is 0x00000801",
                             "expected 0x00000803"});
  const std::string images = testing::idx_images(1, 1, 1, pattern);
  expect_error<FormatError>([&] { parse_idx_labels(bytes_of(images), "train-labels-idx1-ubyte"); },
                            {"train-labels-idx1-ubyte: not an IDX label file", "magic number is 0x00000803"});
  expect_error<FormatError>([&] { parse_idx_images(bytes_of(std::string("\x89PNG....", 8)), "f"); },
                            {"f: not an IDX image file", "0x89504e47"});
  expect_error<FormatError>([&] { parse_idx_images(bytes_of(std::string("\0\0", 2)), "short"); },
                            {"short: too short for an IDX header", "2 bytes"});
}

TEST(Idx, TruncatedImagesGiveTheExactMessage) {
  const std::string file = testing::idx_raw(0x803, {60000, 28, 28}, 1000 - 16);
  expect_error<FormatError>(
      [&] { parse_idx_images(bytes_of(file), "train-images-idx3-ubyte.gz"); },
      {"train-images-idx3-ubyte.gz: truncated: header says 60000 images of 28x28 (47040016 "
       "bytes) but the file has 1000 bytes"});
  expect_error<FormatError>(
      [&] {
        parse_idx_images(bytes_of(testing::idx_raw(0x803, {1, 2}, 0)), "h");
      },
      {"h: truncated header", "16 bytes", "12 bytes"});
}

TEST(Idx, TrailingBytesAreAnError) {
  std::string file = testing::idx_images(2, 2, 2, pattern) + "xyz";
  expect_error<FormatError>([&] { parse_idx_images(bytes_of(file), "img"); },
                            {"img: trailing bytes", "2 images of 2x2 (24 bytes)", "27 bytes (3 extra)"});
  std::string labels = testing::idx_labels({1, 2}) + "!";
  expect_error<FormatError>([&] { parse_idx_labels(bytes_of(labels), "lbl"); },
                            {"lbl: trailing bytes", "2 labels (10 bytes)", "11 bytes (1 extra)"});
}

TEST(Idx, TruncatedLabelsAndZeroDimensions) {
  std::string labels = testing::idx_labels({1, 2, 3});
  labels.pop_back();
  expect_error<FormatError>([&] { parse_idx_labels(bytes_of(labels), "lbl"); },
                            {"lbl: truncated: header says 3 labels (11 bytes) but the file has 10 bytes"});
  expect_error<FormatError>(
      [&] {
        parse_idx_images(bytes_of(testing::idx_raw(0x803, {5, 0, 28}, 0)), "z");
      },
      {"z: header says 5 images of 0x28", "must be > 0"});
  expect_error<FormatError>([&] { parse_idx_labels(bytes_of(testing::idx_raw(0x801, {0}, 0)), "z"); },
                            {"z: header says 0 labels"});
  // Dimensions whose product overflows 64 bits are reported, not wrapped.
  expect_error<FormatError>(
      [&] {
        parse_idx_images(bytes_of(testing::idx_raw(0x803, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 0)),
                         "big");
      },
      {"big: truncated", "more than 2^64 bytes"});
}

TEST(Idx, LabelOutOfRange) {
  const std::string labels = testing::idx_labels({1, 9, 10, 3});
  expect_error<FormatError>([&] { parse_idx_labels(bytes_of(labels), "train-labels-idx1-ubyte", 10); },
                            {"train-labels-idx1-ubyte: label 10 of item 2 is out of range: expected 0..9"});
  EXPECT_NO_THROW(parse_idx_labels(bytes_of(labels), "no check"));
  EXPECT_NO_THROW(parse_idx_labels(bytes_of(labels), "eleven", 11));
  EXPECT_THROW(parse_idx_labels(bytes_of(labels), "bad k", 0), InvalidArgument);
}

TEST(Idx, CorruptGzipIsAFormatError) {
  testing::TempDir dir;
  const std::string gz = testing::gzip(testing::idx_images(50, 28, 28, pattern));
  std::string corrupt = gz;
  for (size_t i = 20; i < 40; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  testing::write_file(dir.path() / "corrupt.gz", corrupt);
  expect_error<FormatError>([&] { read_idx_images(dir.path() / "corrupt.gz"); },
                            {(dir.path() / "corrupt.gz").string(), "corrupt gzip stream"});
  testing::write_file(dir.path() / "cut.gz", gz.substr(0, gz.size() / 2));
  expect_error<FormatError>([&] { read_idx_images(dir.path() / "cut.gz"); }, {"cut.gz", "truncated"});
  testing::write_file(dir.path() / "crc.gz", [&] {
    std::string bad_crc = gz;
    bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 1);  // CRC32 of the trailer
    return bad_crc;
  }());
  expect_error<FormatError>([&] { read_idx_images(dir.path() / "crc.gz"); },
                            {"crc.gz", "corrupt gzip stream"});
}

TEST(Idx, MissingFileIsAnIoErrorNamingThePath) {
  testing::TempDir dir;
  expect_error<IoError>([&] { read_idx_images(dir.path() / "train-images-idx3-ubyte"); },
                        {(dir.path() / "train-images-idx3-ubyte").string()});
  expect_error<IoError>([&] { read_idx_labels(dir.path() / "nope.gz"); }, {"nope.gz"});
}

// ------------------------------------------------------------------------------------------------------------
// gzip helpers (file_io)
// ------------------------------------------------------------------------------------------------------------
TEST(Gzip, MultiMemberTrailingGarbageAndLimit) {
  const std::string a = "first member ", b = "second member";
  const std::string two = testing::gzip(a) + testing::gzip(b);
  const std::vector<uint8_t> out = gunzip(bytes_of(two), "two");
  EXPECT_EQ(std::string(out.begin(), out.end()), a + b);
  expect_error<FormatError>([&] { gunzip(bytes_of(testing::gzip(a) + "junk"), "junk.gz"); },
                            {"junk.gz: corrupt gzip stream", "after the end"});
  const std::string zeros(1 << 20, '\0');
  expect_error<FormatError>([&] { gunzip(bytes_of(testing::gzip(zeros)), "bomb.gz", 1000); },
                            {"bomb.gz", "more than 1000 bytes"});
  EXPECT_EQ(gunzip(bytes_of(testing::gzip(zeros)), "ok.gz").size(), zeros.size());
  expect_error<FormatError>([&] { gunzip(bytes_of(std::string("plain")), "p"); }, {"p: not a gzip stream"});
  EXPECT_TRUE(is_gzip(bytes_of(testing::gzip(""))));
  EXPECT_TRUE(gunzip(bytes_of(testing::gzip("")), "empty").empty());
}

TEST(FileIo, WriteFileAtomic) {
  testing::TempDir dir;
  const std::string text = "hello";
  write_file_atomic(dir.path() / "out.txt", bytes_of(text));
  const std::vector<uint8_t> back = read_file_bytes(dir.path() / "out.txt");
  EXPECT_EQ(std::string(back.begin(), back.end()), text);
  write_file_atomic(dir.path() / "out.txt", bytes_of(std::string("replaced")));
  EXPECT_EQ(read_file_bytes(dir.path() / "out.txt").size(), 8u);
  size_t n_files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++n_files;
  EXPECT_EQ(n_files, 1u) << "no temporary left behind";
  expect_error<IoError>([&] { write_file_atomic(dir.path() / "no-such-dir" / "f", bytes_of(text)); },
                        {"cannot write", "no-such-dir"});
}

}  // namespace
}  // namespace sprint::data
