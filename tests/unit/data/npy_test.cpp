// npy_test.cpp: .npy files written byte by byte here as numpy.save lays them out (version 1.0 header padded to
// 64 bytes), round trips through sprint's writer, and the malformed files the reader must refuse.
#include <gtest/gtest.h>

#include <cstring>

#include "sprint/core/error.h"
#include "sprint/data/npy.h"

namespace sprint::data {
namespace {

// memcpy rather than vector::insert: g++ 12 warns falsely (-Wstringop-overflow) about the inlined insert.
void append(std::vector<uint8_t>& out, const void* p, size_t n) {
  const size_t at = out.size();
  out.resize(at + n);
  if (n > 0) std::memcpy(out.data() + at, p, n);
}

std::vector<uint8_t> npy_of(const std::string& dict, const std::vector<uint8_t>& data, uint8_t major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  const size_t n = header.size();
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  if (major != 1) out.resize(out.size() + 2, 0);
  append(out, header.data(), header.size());
  append(out, data.data(), data.size());
  return out;
}

std::vector<uint8_t> floats_le(int n) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    const float v = 0.5f * static_cast<float>(i);
    append(out, &v, 4);
  }
  return out;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_npy(bytes, "x.npy");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(Npy, ReadsNumpyLayout) {
  const Tensor t = parse_npy(npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 3), }", floats_le(12)),
                             "x.npy");
  EXPECT_EQ(t.shape(), (Shape{2, 1, 2, 3}));
  EXPECT_EQ(t.dtype(), DType::kF32);
  EXPECT_FLOAT_EQ(t.to_vector<float>()[11], 5.5f);
  // Version 2.0 header, a 1-tuple shape, double quotes.
  const Tensor v = parse_npy(npy_of(R"({"descr": "<f4", "fortran_order": False, "shape": (3,)})", floats_le(3), 2),
                             "x.npy");
  EXPECT_EQ(v.shape(), (Shape{3}));
}

TEST(Npy, RoundTrip) {
  const std::vector<float> values = {1, -2, 3.5f, 4, 5, 6};
  for (const Shape& shape : {Shape{6}, Shape{2, 3}, Shape{1, 1, 2, 3}}) {
    const std::vector<uint8_t> bytes = encode_npy(Tensor::from_values<float>(values, shape));
    EXPECT_EQ((10 + (bytes[8] | (bytes[9] << 8))) % 64, 0);
    const Tensor back = parse_npy(bytes, "rt.npy");
    EXPECT_EQ(back.shape(), shape);
    EXPECT_EQ(back.to_vector<float>(), values);
  }
  const Tensor scalar = parse_npy(encode_npy(Tensor::from_values<int64_t>(std::vector<int64_t>{7}, {})), "s.npy");
  EXPECT_EQ(scalar.ndim(), 0);
  EXPECT_EQ(scalar.data_as<int64_t>()[0], 7);
}

TEST(Npy, RefusesMalformedFiles) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  std::vector<uint8_t> truncated = npy_of(ok, floats_le(6));
  truncated.pop_back();
  std::vector<uint8_t> long_header = npy_of(ok, floats_le(6));
  long_header[9] = 0x20;
  const std::pair<std::vector<uint8_t>, std::string> cases[] = {
      {{1, 2, 3}, "no \\x93NUMPY magic"},
      {truncated, "needs 24 data bytes, the file has 23"},
      {long_header, "runs past the end"},
      {npy_of(ok, floats_le(6), 9), "unsupported .npy version 9"},
      {npy_of("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", floats_le(6)), "unsupported dtype"},
      {npy_of("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", floats_le(6)), "Fortran"},
      {npy_of("{'descr': '<f4', 'shape': (2, 3), }", floats_le(6)), "needs 'descr'"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", floats_le(6)), "non-negative"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", {}), "overflows"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", {}), "overflows"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1), }", floats_le(1)), "dimensions"},
      // No elements, but strides over the other extents would overflow (found by npy_fuzz).
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (208419593329, 0, 40000020841329), }", {}),
       "overflows"},
      {npy_of("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floats_le(1)), "twice"},
      {npy_of("{'descr': '<f4' 'fortran_order': False}", floats_le(1)), "commas"},
      {npy_of("{'descr: '<f4'}", {}), "expected"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", floats_le(1)), "unknown key"},
      {npy_of("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } trailing", floats_le(1)), "after the dict"},
  };
  for (const auto& [bytes, says] : cases) {
    const std::string what = error_of(bytes);
    EXPECT_NE(what.find(says), std::string::npos) << "expected \"" << says << "\", got \"" << what << "\"";
    EXPECT_EQ(what.rfind("x.npy", 0), 0u) << what;
  }
}

}  // namespace
}  // namespace sprint::data
