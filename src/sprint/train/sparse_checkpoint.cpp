// sparse_checkpoint.cpp: masked entries on top of base weights (sparse_checkpoint.h).
#include "sprint/train/sparse_checkpoint.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "sprint/config.h"
#include "sprint/core/error.h"
#include "sprint/train/file_checks.h"
#include "sprint/train/checkpoint.h"

namespace sprint::train {
namespace {
namespace fs = std::filesystem;

constexpr const char* kFormat = "sprint-sparse";

// The file's tensors as host tensors by name, in the file's order.
std::vector<data::NamedTensor> all_tensors(const data::SafetensorsFile& file) {
  std::vector<data::NamedTensor> out;
  for (const data::SafetensorsFile::Entry& e : file.entries()) out.push_back({e.name, file.tensor(e)});
  return out;
}

uint64_t size_on_disk(const fs::path& path) {
  std::error_code ec;
  const uintmax_t n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(n);
}

}  // namespace

std::string content_hash(const data::SafetensorsFile& file) {
  uint64_t h = kFnv1aStart;
  for (const data::SafetensorsFile::Entry& e : file.entries()) {
    h = fnv1a(h, e.name.data(), e.name.size() + 1);
    const std::string_view code = data::safetensors_dtype_code(e.dtype);
    h = fnv1a(h, code.data(), code.size());
    for (int64_t d : e.shape) h = fnv1a(h, &d, sizeof d);
    const std::span<const uint8_t> b = file.bytes(e);
    h = fnv1a(h, b.data(), b.size());
  }
  return fmt::format("{:016x}", h);
}

SparseSaveResult save_sparse_weights(const fs::path& path, const Stream& stream, nn::Module& net,
                                     const std::string& model, int64_t step, const ParameterMask& mask,
                                     const fs::path& base) {
  check_mask_fits(net, mask);
  const data::SafetensorsFile base_file = data::read_safetensors(resolve_checkpoint(base));
  std::unordered_map<const nn::Parameter*, std::string> first_path;
  std::unordered_map<std::string, std::string> mask_name;  // state_dict name -> the mask entry it follows
  for (auto& [name, p] : net.named_parameters(nn::SharedPaths::kEvery)) {
    const auto [it, first] = first_path.emplace(p.get(), name);
    mask_name.emplace(name, it->second);
  }
  SparseSaveResult result;
  std::vector<data::NamedTensor> out;
  for (data::NamedTensor& t : model_state_dict(stream, net)) {
    const auto m = mask_name.find(t.name);
    const ParameterMask::Entry* e = m == mask_name.end() ? nullptr : mask.find(m->second);
    const bool all_kept = e != nullptr && std::all_of(e->keep.begin(), e->keep.end(), [](uint8_t k) { return k != 0; });
    if (e == nullptr || all_kept) {  // a buffer, a counter, a frozen parameter or one kept whole: stored whole
      if (all_kept) {
        result.dense_values += t.value.numel();
        if (m->second == t.name) result.values += t.value.numel();
      }
      out.push_back(std::move(t));
      continue;
    }
    const data::SafetensorsFile::Entry* b = base_file.find(t.name);
    SPRINT_CHECK(b != nullptr && b->shape == t.value.shape() && b->dtype == t.value.dtype(),
                 "the base {} has no {} tensor {} {} (weights of another model?)", base_file.source(),
                 data::safetensors_dtype_code(t.value.dtype()), t.name, t.value.shape().to_string());
    const size_t width = dtype_size(t.value.dtype());
    const auto* now = static_cast<const uint8_t*>(t.value.data());
    const uint8_t* was = base_file.bytes(*b).data();
    std::vector<int32_t> idx;
    int64_t differ = 0;
    for (size_t i = 0; i < e->keep.size(); ++i) {
      if (e->keep[i] != 0)
        idx.push_back(static_cast<int32_t>(i));
      else if (std::memcmp(now + i * width, was + i * width, width) != 0)
        ++differ;
    }
    SPRINT_CHECK(differ == 0,
                 "{} differs from the base {} in {} entries outside the mask: a sparse checkpoint would not give the "
                 "model back (train with --mask-update freeze, from --init {})",
                 t.name, base_file.source(), differ, base.string());
    Tensor val = Tensor::empty({static_cast<int64_t>(idx.size())}, t.value.dtype());
    for (size_t j = 0; j < idx.size(); ++j)
      std::memcpy(static_cast<uint8_t*>(val.data()) + j * width, now + static_cast<size_t>(idx[j]) * width, width);
    result.dense_values += t.value.numel();
    if (m->second == t.name) result.values += static_cast<int64_t>(idx.size());
    if (idx.empty()) continue;
    const auto n = static_cast<int64_t>(idx.size());
    out.push_back({t.name + ".idx", Tensor::from_values(idx, {n})});
    out.push_back({t.name + ".val", std::move(val)});
  }
  const fs::path dir = fs::absolute(path).parent_path();
  const fs::path base_abs = fs::absolute(resolve_checkpoint(base));
  const fs::path relative = base_abs.lexically_relative(dir);
  const std::map<std::string, std::string> metadata{
      {"format", kFormat},
      {"model", model},
      {"step", std::to_string(step)},
      {"sprint_version", SPRINT_VERSION},
      {"base", base.is_relative() && !relative.empty() ? relative.string() : base_abs.string()},
      {"base_hash", content_hash(base_file)},
      {"mask_hash", mask.hash()},
      {"keep_ratio", fmt::format("{}", mask.keep_ratio)},
      {"kept", std::to_string(result.values)},
      {"dense_values", std::to_string(result.dense_values)}};
  data::write_safetensors(path, out, metadata);
  result.bytes = size_on_disk(path);
  result.base_bytes = size_on_disk(base_abs);
  return result;
}

bool is_sparse_weights(const data::SafetensorsFile& file) { return file.metadata_value("format") == kFormat; }

data::SafetensorsFile expand_sparse_weights(const data::SafetensorsFile& sparse,
                                            const std::optional<fs::path>& base) {
  const std::string src = sparse.source();
  fs::path base_path = base.value_or(fs::path(sparse.metadata_value("base")));
  if (!base && base_path.is_relative()) base_path = fs::path(src).parent_path() / base_path;
  if (base_path.empty()) SPRINT_THROW(FormatError, "{}: a sparse checkpoint without its base's path", src);
  return expand_sparse_weights(sparse, data::read_safetensors(base_path));
}

data::SafetensorsFile expand_sparse_weights(const data::SafetensorsFile& sparse, const data::SafetensorsFile& base_file) {
  const std::string src = sparse.source();
  SPRINT_CHECK_FORMAT(is_sparse_weights(sparse), "{} is not a sparse checkpoint", src);
  const fs::path base_path = base_file.source();
  if (content_hash(base_file) != sparse.metadata_value("base_hash"))
    SPRINT_THROW(FormatError, "{} was saved on other base weights than {} (content hash {}, recorded {})", src,
                 base_path.string(), content_hash(base_file), sparse.metadata_value("base_hash"));
  std::vector<data::NamedTensor> tensors = all_tensors(base_file);
  const auto slot = [&](const std::string& name) -> Tensor* {
    for (data::NamedTensor& t : tensors)
      if (t.name == name) return &t.value;
    return nullptr;
  };
  for (const data::SafetensorsFile::Entry& e : sparse.entries()) {
    if (e.name.ends_with(".val")) continue;  // with its .idx
    if (!e.name.ends_with(".idx")) {         // a buffer or counter, whole
      Tensor* dst = slot(e.name);
      if (dst == nullptr) SPRINT_THROW(FormatError, "{}: {} is not in the base {}", src, e.name, base_path.string());
      SPRINT_CHECK_FORMAT(dst->shape() == e.shape && dst->dtype() == e.dtype,
                          "{}: {} is {} {} here and {} {} in the base", src, e.name, data::safetensors_dtype_code(e.dtype),
                          e.shape.to_string(), data::safetensors_dtype_code(dst->dtype()), dst->shape().to_string());
      *dst = sparse.tensor(e);
      continue;
    }
    const std::string name = e.name.substr(0, e.name.size() - 4);
    const data::SafetensorsFile::Entry* v = sparse.find(name + ".val");
    Tensor* dst = slot(name);
    if (v == nullptr || dst == nullptr || e.dtype != DType::kI32 || e.shape.size() != 1 || v->shape != e.shape ||
        v->dtype != dst->dtype())
      SPRINT_THROW(FormatError, "{}: {}.idx needs an I32 vector, a {}.val of its length and the base's dtype, and "
                   "{} in the base", src, name, name, name);
    const Tensor idx = sparse.tensor(e), val = sparse.tensor(*v);
    const int32_t* ix = idx.data_as<int32_t>();
    const size_t width = dtype_size(dst->dtype());
    for (int64_t j = 0; j < idx.numel(); ++j) {
      if (ix[j] < 0 || ix[j] >= dst->numel() || (j > 0 && ix[j] <= ix[j - 1]))
        SPRINT_THROW(FormatError, "{}: {}.idx[{}] = {} is out of range or not ascending ({} entries)", src, name, j,
                     ix[j], dst->numel());
      std::memcpy(static_cast<uint8_t*>(dst->data()) + static_cast<size_t>(ix[j]) * width,
                  static_cast<const uint8_t*>(val.data()) + static_cast<size_t>(j) * width, width);
    }
  }
  for (const data::SafetensorsFile::Entry& e : sparse.entries())
    if (e.name.ends_with(".val") && !sparse.find(e.name.substr(0, e.name.size() - 4) + ".idx"))
      SPRINT_THROW(FormatError, "{}: {} has no .idx beside it", src, e.name);
  std::map<std::string, std::string> metadata = base_file.metadata();
  metadata["step"] = sparse.metadata_value("step", metadata["step"]);
  return data::SafetensorsFile(data::encode_safetensors(tensors, metadata),
                               fmt::format("{} (on {})", src, base_path.string()));
}

data::SafetensorsFile read_weights(const fs::path& path) {
  data::SafetensorsFile file = data::read_safetensors(resolve_checkpoint(path));
  if (is_sparse_weights(file)) return expand_sparse_weights(file);
  return file;
}

}  // namespace sprint::train
