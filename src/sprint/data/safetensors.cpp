// safetensors.cpp: safetensors reader (strict validation) and writer.
#include "sprint/data/safetensors.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "sprint/data/file_io.h"

namespace sprint::data {
namespace {
using nlohmann::json;

// The format nests two levels below the top object (an entry's shape and data_offsets arrays); anything
// deeper is rejected while parsing, before it is built.
constexpr int kMaxJsonDepth = 2;

std::optional<DType> dtype_from_code(std::string_view code) {
  if (code == "F32") return DType::kF32;
  if (code == "F64") return DType::kF64;
  if (code == "F16") return DType::kF16;
  if (code == "BF16") return DType::kBF16;
  if (code == "I32") return DType::kI32;
  if (code == "I64") return DType::kI64;
  if (code == "U8") return DType::kU8;
  return std::nullopt;
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Parses the header JSON, rejecting duplicate keys in any object and nesting deeper than kMaxJsonDepth.
json parse_header_json(std::string_view text, const std::string& source) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string error;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth > kMaxJsonDepth) throw FormatError(fmt::format("{}: header JSON nests too deeply", source));
        if (event == json::parse_event_t::object_start) keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second)
          throw FormatError(fmt::format("{}: header names \"{}\" twice", source, parsed.get<std::string>()));
        break;
      case json::parse_event_t::array_end:
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    throw FormatError(fmt::format("{}: header is not valid JSON ({})", source, e.what()));
  }
}

uint64_t unsigned_field(const json& v, const std::string& source, const std::string& name, const char* what) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw FormatError(fmt::format("{}: tensor \"{}\": {} must be non-negative integers", source, name, what));
  return v.get<uint64_t>();
}

SafetensorsFile::Entry parse_entry(const std::string& name, const json& spec, const std::string& source,
                                   uint64_t data_size) {
  auto fail = [&](const std::string& why) {
    throw FormatError(fmt::format("{}: tensor \"{}\": {}", source, name, why));
  };
  if (!spec.is_object()) fail("entry is not a JSON object");
  for (const auto& [key, value] : spec.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets") fail(fmt::format("unknown field \"{}\"", key));
  const auto dtype_it = spec.find("dtype"), shape_it = spec.find("shape"), offsets_it = spec.find("data_offsets");
  if (dtype_it == spec.end() || shape_it == spec.end() || offsets_it == spec.end())
    fail("needs dtype, shape and data_offsets");
  if (!dtype_it->is_string()) fail("dtype is not a string");
  const std::string code = dtype_it->get<std::string>();
  const std::optional<DType> dtype = dtype_from_code(code);
  if (!dtype) fail(fmt::format("unsupported dtype \"{}\"", code));
  if (!shape_it->is_array()) fail("shape is not an array");
  if (shape_it->size() > static_cast<size_t>(Shape::kMaxDims))
    fail(fmt::format("{} dimensions (at most {} supported)", shape_it->size(), Shape::kMaxDims));
  Shape shape;
  uint64_t numel = 1, span = 1;  // span: the product of the extents other than 0, which strides multiply
  for (const json& d : *shape_it) {
    const uint64_t extent = unsigned_field(d, source, name, "shape entries");
    if (extent > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, extent, &numel) ||
        (extent > 0 && (__builtin_mul_overflow(span, extent, &span) || span > (uint64_t{1} << 62))))
      fail(fmt::format("shape {} overflows", shape_it->dump()));
    shape.push_back(static_cast<int64_t>(extent));
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(*dtype)), &bytes))
    fail(fmt::format("shape {} overflows", shape_it->dump()));
  if (!offsets_it->is_array() || offsets_it->size() != 2) fail("data_offsets is not [begin, end]");
  const uint64_t begin = unsigned_field((*offsets_it)[0], source, name, "data_offsets");
  const uint64_t end = unsigned_field((*offsets_it)[1], source, name, "data_offsets");
  if (begin > end || end > data_size)
    fail(fmt::format("data_offsets [{}, {}] outside the {} data bytes", begin, end, data_size));
  if (end - begin != bytes)
    fail(fmt::format("{} {} needs {} bytes, data_offsets give {}", code, shape.to_string(), bytes, end - begin));
  return {name, *dtype, shape, begin, bytes};
}
}  // namespace

std::string_view safetensors_dtype_code(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF64: return "F64";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kU8: return "U8";
  }
  SPRINT_THROW(InternalError, "safetensors: unknown dtype {}", static_cast<int>(dtype));
}

SafetensorsFile::SafetensorsFile(std::vector<uint8_t> bytes, std::string source)
    : bytes_(std::move(bytes)), source_(std::move(source)) {
  auto fail = [&](const std::string& why) { throw FormatError(fmt::format("{}: {}", source_, why)); };
  if (bytes_.size() < 8) fail(fmt::format("{} bytes is too short for a safetensors file", bytes_.size()));
  const uint64_t header_size = read_u64_le(bytes_.data());
  if (header_size > bytes_.size() - 8)
    fail(fmt::format("header length {} runs past the end of the {}-byte file", header_size, bytes_.size()));
  if (header_size > kMaxSafetensorsHeaderBytes)
    fail(fmt::format("header length {} exceeds the {}-byte limit", header_size, kMaxSafetensorsHeaderBytes));
  if (header_size < 2 || bytes_[8] != '{') fail("header does not start with a JSON object");
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data() + 8), header_size);
  const json header = parse_header_json(text, source_);
  if (!header.is_object()) fail("header is not a JSON object");
  const uint64_t data_begin = 8 + header_size, data_size = bytes_.size() - data_begin;
  for (const auto& [name, spec] : header.items()) {
    if (name == "__metadata__") {
      if (!spec.is_object()) fail("__metadata__ is not a JSON object");
      for (const auto& [key, value] : spec.items()) {
        if (!value.is_string()) fail(fmt::format("__metadata__ value of \"{}\" is not a string", key));
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    Entry entry = parse_entry(name, spec, source_, data_size);
    entry.begin += data_begin;
    entries_.push_back(std::move(entry));
  }
  // The data must be covered exactly once: sorted by offset, each tensor starts where the previous ends.
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.size < b.size;
  });
  uint64_t at = data_begin;
  for (const Entry& e : entries_) {
    if (e.begin < at)
      fail(fmt::format("tensor \"{}\" overlaps the tensor before it (data_offsets begin {})", e.name,
                       e.begin - data_begin));
    if (e.begin > at)
      fail(fmt::format("data bytes [{}, {}) before tensor \"{}\" belong to no tensor", at - data_begin,
                       e.begin - data_begin, e.name));
    at = e.begin + e.size;
  }
  if (at != bytes_.size())
    fail(fmt::format("data bytes [{}, {}) after the last tensor belong to no tensor", at - data_begin, data_size));
}

const SafetensorsFile::Entry* SafetensorsFile::find(std::string_view name) const {
  for (const Entry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

Tensor SafetensorsFile::tensor(const Entry& entry) const {
  Tensor t = Tensor::empty(entry.shape, entry.dtype);
  if (entry.size > 0) std::memcpy(t.data(), bytes_.data() + entry.begin, entry.size);
  return t;
}

Tensor SafetensorsFile::tensor(std::string_view name) const {
  const Entry* e = find(name);
  if (!e) throw FormatError(fmt::format("{}: has no tensor \"{}\"", source_, name));
  return tensor(*e);
}

std::span<const uint8_t> SafetensorsFile::bytes(const Entry& entry) const {
  return {bytes_.data() + entry.begin, entry.size};
}

std::string SafetensorsFile::metadata_value(const std::string& key, const std::string& fallback) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? fallback : it->second;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  return SafetensorsFile(read_file_bytes(path), path.string());
}

std::vector<uint8_t> encode_safetensors(const std::vector<NamedTensor>& tensors,
                                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  std::set<std::string> names;
  for (const NamedTensor& t : tensors) {
    SPRINT_CHECK(t.name != "__metadata__" && !t.name.empty(), "safetensors: invalid tensor name \"{}\"", t.name);
    SPRINT_CHECK(names.insert(t.name).second, "safetensors: tensor name \"{}\" given twice", t.name);
    SPRINT_CHECK(t.value.defined() && t.value.device().is_cpu() && t.value.is_contiguous(),
                 "safetensors: tensor \"{}\" must be a contiguous host tensor, got {}", t.name,
                 t.value.defined() ? t.value.description() : std::string("undefined"));
    const uint64_t size = static_cast<uint64_t>(t.value.numel()) * dtype_size(t.value.dtype());
    header[t.name] = {{"dtype", std::string(safetensors_dtype_code(t.value.dtype()))},
                      {"shape", std::vector<int64_t>(t.value.shape().begin(), t.value.shape().end())},
                      {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8 + text.size() + offset);
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  uint8_t* data = out.data() + 8 + text.size();
  for (const NamedTensor& t : tensors) {
    const size_t size = static_cast<size_t>(t.value.numel()) * dtype_size(t.value.dtype());
    if (size > 0) std::memcpy(data, t.value.data(), size);
    data += size;
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, encode_safetensors(tensors, metadata));
}

}  // namespace sprint::data
