// data_test_util.cpp: in-memory IDX, gzip, PNG and CIFAR-10 record builders for the data tests.
#include "data_test_util.h"

#include <csetjmp>
#include <cstring>
#include <stdexcept>

#include <png.h>
#include <zlib.h>

namespace sprint::testing {
namespace {
void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

void append_png(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::string*>(png_get_io_ptr(png));
  out->append(reinterpret_cast<const char*>(data), n);
}
void flush_png(png_structp) {}

int channels_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return 4;
    default:
      return 1;
  }
}

// libpng write with setjmp in a frame without C++ objects.
int write_png_c(png_structp png, png_infop info, uint32_t width, uint32_t height, int color_type,
                int bit_depth, bool interlace, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return 1;
  png_set_IHDR(png, info, width, height, bit_depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return 0;
}
}  // namespace

std::string idx_images(uint32_t n, uint32_t h, uint32_t w, uint8_t (*pixel)(uint32_t, uint32_t)) {
  std::string s;
  put_be32(s, 0x00000803);
  put_be32(s, n);
  put_be32(s, h);
  put_be32(s, w);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) s.push_back(static_cast<char>(pixel(i, p)));
  return s;
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  std::string s;
  put_be32(s, 0x00000801);
  put_be32(s, static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) s.push_back(static_cast<char>(l));
  return s;
}

std::string idx_raw(uint32_t magic, const std::vector<uint32_t>& dims, size_t payload_bytes) {
  std::string s;
  put_be32(s, magic);
  for (uint32_t d : dims) put_be32(s, d);
  s.append(payload_bytes, '\0');
  return s;
}

std::string gzip(const std::string& raw) {
  z_stream zs;
  std::memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, raw.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  out.resize(zs.total_out);
  return out;
}

std::string cifar_records(const std::vector<uint8_t>& labels, uint8_t (*pixel)(uint32_t, uint32_t)) {
  std::string s;
  for (uint32_t i = 0; i < labels.size(); ++i) {
    s.push_back(static_cast<char>(labels[i]));
    for (uint32_t k = 0; k < 3072; ++k) s.push_back(static_cast<char>(pixel(i, k)));
  }
  return s;
}

std::string png(uint32_t width, uint32_t height, int color_type, int bit_depth,
                const std::vector<uint8_t>& pixels, bool interlace) {
  const size_t row_bytes = static_cast<size_t>(width) * static_cast<size_t>(channels_of(color_type)) *
                           static_cast<size_t>(bit_depth) / 8;
  if (pixels.size() != row_bytes * height) throw std::runtime_error("png(): pixel buffer size mismatch");
  std::string out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(png, &out, append_png, flush_png);
  std::vector<png_bytep> rows(height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = const_cast<png_bytep>(pixels.data() + y * row_bytes);
  const int rc = write_png_c(png, info, width, height, color_type, bit_depth, interlace, rows.data());
  png_destroy_write_struct(&png, &info);
  if (rc != 0) throw std::runtime_error("libpng write failed");
  return out;
}

}  // namespace sprint::testing
