// npy.cpp: .npy reader (a small parser for the header's dict literal) and writer.
#include "sprint/data/npy.h"

#include <cstring>
#include <optional>
#include <string>

#include "sprint/data/file_io.h"

namespace sprint::data {
namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// numpy itself refuses headers over 10,000 bytes unless told otherwise; a real one is under 200.
constexpr uint32_t kMaxHeaderBytes = 10'000;

std::optional<DType> dtype_from_descr(std::string_view d) {
  // '|' (not applicable) is how numpy spells the byte order of one-byte types.
  if (d == "<f4") return DType::kF32;
  if (d == "<f8") return DType::kF64;
  if (d == "<i4") return DType::kI32;
  if (d == "<i8") return DType::kI64;
  if (d == "|u1" || d == "<u1") return DType::kU8;
  return std::nullopt;
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "<f4";
    case DType::kF64: return "<f8";
    case DType::kI32: return "<i4";
    case DType::kI64: return "<i8";
    case DType::kU8: return "|u1";
    case DType::kF16:
    case DType::kBF16: break;
  }
  SPRINT_THROW(InvalidArgument, "npy: cannot write a {} tensor (f32, f64, i32, i64 and u8 only)", dtype_name(dtype));
}

// A cursor over the header's dict literal: {'key': value, ...} with string, True/False and int-tuple values.
class DictParser {
 public:
  DictParser(std::string_view text, std::string_view source) : s_(text), source_(source) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
  };

  Header parse() {
    Header h;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = quoted();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (h.descr) fail("names 'descr' twice");
        h.descr = quoted();
      } else if (key == "fortran_order") {
        if (h.fortran_order) fail("names 'fortran_order' twice");
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (h.shape) fail("names 'shape' twice");
        h.shape = tuple();
      } else {
        fail(fmt::format("has an unknown key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("dict entries are not separated by commas");
    }
    expect('}');
    skip_space();
    if (i_ != s_.size()) fail("has text after the dict");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw FormatError(fmt::format("{}: npy header {}", source_, why));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}' at byte {}", c, i_));
    ++i_;
  }
  std::string quoted() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail(fmt::format("expected a quoted string at byte {}", i_));
    const size_t end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("has an unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("fortran_order is not True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("shape holds something other than non-negative integers");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (INT64_MAX - 9) / 10) fail("shape entry overflows");
        v = v * 10 + (s_[i_++] - '0');
      }
      if (shape.size() == Shape::kMaxDims) fail(fmt::format("shape has more than {} dimensions", Shape::kMaxDims));
      shape.push_back(v);
      skip_space();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("shape entries are not separated by commas");
    }
    expect(')');
    return shape;
  }

  std::string_view s_;
  std::string_view source_;
  size_t i_ = 0;
};
}  // namespace

Tensor parse_npy(std::span<const uint8_t> bytes, std::string_view source) {
  auto fail = [&](const std::string& why) { throw FormatError(fmt::format("{}: {}", source, why)); };
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    fail("not an .npy file (no \\x93NUMPY magic)");
  const uint8_t major = bytes[6];
  size_t header_at = 0;
  uint32_t header_size = 0;
  if (major == 1) {
    header_size = bytes[8] | (uint32_t{bytes[9]} << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail("truncated .npy header");
    header_size = bytes[8] | (uint32_t{bytes[9]} << 8) | (uint32_t{bytes[10]} << 16) | (uint32_t{bytes[11]} << 24);
    header_at = 12;
  } else {
    fail(fmt::format("unsupported .npy version {}.{}", major, bytes[7]));
  }
  if (header_size > kMaxHeaderBytes) fail(fmt::format("npy header of {} bytes is too long", header_size));
  if (header_size > bytes.size() - header_at)
    fail(fmt::format("npy header length {} runs past the end of the {}-byte file", header_size, bytes.size()));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + header_at), header_size);
  const DictParser::Header h = DictParser(text, source).parse();
  if (!h.descr || !h.fortran_order || !h.shape) fail("npy header needs 'descr', 'fortran_order' and 'shape'");
  if (*h.fortran_order) fail("Fortran-ordered arrays are not supported (save with numpy.ascontiguousarray)");
  const std::optional<DType> dtype = dtype_from_descr(*h.descr);
  if (!dtype)
    fail(fmt::format("unsupported dtype '{}' (little-endian f4, f8, i4, i8 or u1)", *h.descr));
  // Strides multiply the extents other than 0 too: their product must fit as well as the element count.
  uint64_t numel = 1, n_bytes = 0, span = 1;
  for (int64_t d : *h.shape) {
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) fail("shape overflows");
    if (d > 0 && (__builtin_mul_overflow(span, static_cast<uint64_t>(d), &span) || span > (uint64_t{1} << 62)))
      fail("shape overflows");
  }
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(*dtype)), &n_bytes)) fail("shape overflows");
  const size_t data_at = header_at + header_size;
  if (bytes.size() - data_at != n_bytes)
    fail(fmt::format("shape {} of {} needs {} data bytes, the file has {}", h.shape->to_string(), *h.descr, n_bytes,
                     bytes.size() - data_at));
  Tensor t = Tensor::empty(*h.shape, *dtype);
  if (n_bytes > 0) std::memcpy(t.data(), bytes.data() + data_at, n_bytes);
  return t;
}

Tensor read_npy(const std::filesystem::path& path) { return parse_npy(read_file_bytes(path), path.string()); }

std::vector<uint8_t> encode_npy(const Tensor& t) {
  SPRINT_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous(), "npy: needs a contiguous host tensor, got {}",
               t.defined() ? t.description() : std::string("undefined"));
  std::string shape;  // "3, 4"; a 1-tuple keeps its comma ("3,"), a 0-d array is "()"
  for (int i = 0; i < t.ndim(); ++i) shape += (i == 0 ? "" : ", ") + std::to_string(t.dim(i));
  if (t.ndim() == 1) shape += ",";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr_of(t.dtype()), shape);
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  const size_t n_bytes = static_cast<size_t>(t.numel()) * dtype_size(t.dtype());
  std::vector<uint8_t> out(10 + header.size() + n_bytes);
  std::memcpy(out.data(), kMagic, kMagicSize);
  out[6] = 1;
  out[7] = 0;
  out[8] = static_cast<uint8_t>(header.size());
  out[9] = static_cast<uint8_t>(header.size() >> 8);
  std::memcpy(out.data() + 10, header.data(), header.size());
  if (n_bytes > 0) std::memcpy(out.data() + 10 + header.size(), t.data(), n_bytes);
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& tensor) { write_file_atomic(path, encode_npy(tensor)); }

}  // namespace sprint::data
