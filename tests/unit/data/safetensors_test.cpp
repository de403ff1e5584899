// safetensors_test.cpp: the safetensors reader on files built byte by byte here (an independent writer: the
// header text is spelled out, as PyTorch's safetensors.torch.save_file lays it out), round trips through
// sprint's writer, and every malformed file the reader must refuse with a FormatError naming file and tensor.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "sprint/core/error.h"
#include "sprint/data/safetensors.h"

namespace sprint::data {
namespace {

// 8-byte little-endian length, the header text, then `data`.
// (memcpy rather than vector::insert, which g++ 12 warns about falsely with -Wstringop-overflow.)
std::vector<uint8_t> file_of(const std::string& header, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(8 + header.size() + data.size());
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
  return out;
}

std::vector<uint8_t> floats_le(std::initializer_list<float> values) {
  std::vector<uint8_t> out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  }
  return out;
}

// What the reader says about `bytes`: "" when it accepts them.
std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    SafetensorsFile file(bytes, "model.safetensors");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsAFileFromAnIndependentWriter) {
  // Two f32 tensors and an i64 scalar, written in the reference writer's layout (keys sorted, offsets packed).
  std::vector<uint8_t> data = floats_le({1, 2, 3, 4, 5, 6});
  data.resize(data.size() + 8, 0);
  data[24] = 7;  // i64 7
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[24,32]},)"
      R"("fc.bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}  )";
  const SafetensorsFile file(file_of(header, data), "model.safetensors");
  ASSERT_EQ(file.entries().size(), 3u);
  EXPECT_EQ(file.metadata_value("format"), "pt");
  const Tensor w = file.tensor("fc.weight");
  EXPECT_EQ(w.shape(), (Shape{2, 2}));
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(file.tensor("fc.bias").to_vector<float>(), (std::vector<float>{5, 6}));
  const Tensor count = file.tensor("bn.num_batches_tracked");
  EXPECT_EQ(count.ndim(), 0);
  EXPECT_EQ(count.dtype(), DType::kI64);
  EXPECT_EQ(count.data_as<int64_t>()[0], 7);
  EXPECT_EQ(file.entries().front().name, "fc.weight");  // in data order
}

TEST(Safetensors, WriterRoundTripsEveryDtypeAndAligns) {
  std::vector<NamedTensor> tensors;
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 8.0f, -0.5f};
  tensors.push_back({"a.weight", Tensor::from_values<float>(f, {2, 3})});
  tensors.push_back({"b", Tensor::from_values<double>(std::vector<double>{1.0, 2.0}, {2})});
  tensors.push_back({"c", Tensor::from_values<int64_t>(std::vector<int64_t>{-3}, {})});
  tensors.push_back({"d", Tensor::from_values<int32_t>(std::vector<int32_t>{4, 5, 6}, {3, 1})});
  tensors.push_back({"e", Tensor::from_values<uint8_t>(std::vector<uint8_t>{9}, {1})});
  tensors.push_back({"empty", Tensor::empty({0, 4}, DType::kF32)});
  const std::vector<uint8_t> bytes = encode_safetensors(tensors, {{"model", "mlp"}, {"step", "12"}});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[static_cast<size_t>(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
  const SafetensorsFile file(bytes, "rt.safetensors");
  EXPECT_EQ(file.metadata_value("step"), "12");
  EXPECT_EQ(file.tensor("a.weight").to_vector<float>(), f);
  EXPECT_EQ(file.tensor("b").to_vector<double>(), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(file.tensor("c").data_as<int64_t>()[0], -3);
  EXPECT_EQ(file.tensor("d").shape(), (Shape{3, 1}));
  EXPECT_EQ(file.tensor("e").data_as<uint8_t>()[0], 9);
  EXPECT_EQ(file.tensor("empty").shape(), (Shape{0, 4}));
}

TEST(Safetensors, WriteAndReadAFile) {
  const auto path = std::filesystem::temp_directory_path() / "sprint_safetensors_test.safetensors";
  write_safetensors(path, {{"x", Tensor::from_values<float>(std::vector<float>{1, 2}, {2})}}, {});
  EXPECT_EQ(read_safetensors(path).tensor("x").to_vector<float>(), (std::vector<float>{1, 2}));
  std::filesystem::remove(path);
  EXPECT_THROW(read_safetensors(path), IoError);
}

TEST(Safetensors, WriterRefusesBadInput) {
  const Tensor t = Tensor::from_values<float>(std::vector<float>{1}, {1});
  EXPECT_THROW(encode_safetensors({{"x", t}, {"x", t}}, {}), InvalidArgument);
  EXPECT_THROW(encode_safetensors({{"__metadata__", t}}, {}), InvalidArgument);
  EXPECT_THROW(encode_safetensors({{"x", Tensor()}}, {}), InvalidArgument);
}

TEST(Safetensors, RefusesMalformedFiles) {
  const std::vector<uint8_t> d8 = floats_le({1, 2});
  auto one = [&](const std::string& spec) { return file_of(R"({"w":)" + spec + "}", d8); };
  struct Case {
    std::vector<uint8_t> bytes;
    std::string says;
  };
  std::vector<uint8_t> truncated = one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})");
  truncated.resize(truncated.size() - 3);
  std::vector<uint8_t> long_header = one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})");
  long_header[0] = 0xff;
  long_header[3] = 0x10;
  const Case cases[] = {
      {{1, 2, 3}, "too short"},
      {long_header, "runs past the end"},
      {truncated, "outside the"},
      {file_of("[1,2]", d8), "does not start with a JSON object"},
      {file_of(R"({"w":{"dtype":"F32")", d8), "not valid JSON"},
      {one(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"), "needs 12 bytes"},
      {one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,16]})"), "outside the 8 data bytes"},
      {one(R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})"), "outside"},
      {one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})"), "belong to no tensor"},
      {one(R"({"dtype":"Q7","shape":[2],"data_offsets":[0,8]})"), "unsupported dtype \"Q7\""},
      {one(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"), "non-negative integers"},
      {one(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,8]})"), "non-negative integers"},
      {one(R"({"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]})"), "overflows"},
      {file_of(R"({"w":{"dtype":"F32","shape":[4294967296,0,4294967296],"data_offsets":[0,0]}})", {}),
       "overflows"},
      {one(R"({"dtype":"F32","shape":[2]})"), "needs dtype, shape and data_offsets"},
      {one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1})"), "unknown field"},
      {one(R"([1])"), "not a JSON object"},
      {one(R"({"dtype":"F32","shape":[[2]],"data_offsets":[0,8]})"), "nests too deeply"},
      {file_of(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],)"
               R"("data_offsets":[4,8]}})",
               d8),
       "names \"w\" twice"},
      {file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],)"
               R"("data_offsets":[4,8]}})",
               d8),
       "overlaps"},
      {file_of(R"({"__metadata__":{"step":3},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", d8),
       "is not a string"},
      {file_of(std::string(200, '[') + std::string(200, ']'), d8), "does not start with a JSON object"},
      {file_of("{" + std::string(500, '[') + std::string(500, ']') + "}", d8), "not valid JSON"},
      {file_of(R"({"a":)" + std::string(500, '[') + std::string(500, ']') + "}", d8), "nests too deeply"},
  };
  for (const Case& c : cases) {
    const std::string what = error_of(c.bytes);
    EXPECT_NE(what.find(c.says), std::string::npos) << "expected \"" << c.says << "\", got \"" << what << "\"";
    EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
  }
  // Tensor-level errors name the tensor.
  EXPECT_NE(error_of(one(R"({"dtype":"Q7","shape":[2],"data_offsets":[0,8]})")).find("tensor \"w\""),
            std::string::npos);
}

TEST(Safetensors, MissingTensorIsNamed) {
  const SafetensorsFile file(encode_safetensors({}, {}), "empty.safetensors");
  EXPECT_TRUE(file.entries().empty());
  try {
    file.tensor("fc.weight");
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("empty.safetensors: has no tensor \"fc.weight\""), std::string::npos);
  }
}

}  // namespace
}  // namespace sprint::data
