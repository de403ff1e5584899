// parameter_mask.cpp: top-k, random and dense masks, the bit-packed mask file, update masks (parameter_mask.h).
#include "sprint/train/parameter_mask.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "sprint/core/error.h"
#include "sprint/train/file_checks.h"
#include "sprint/data/safetensors.h"

namespace sprint::train {
namespace {

constexpr const char* kFormat = "sprint-mask";

bool in_classifier(const std::string& name, const std::string& classifier) {
  return !classifier.empty() && name.starts_with(classifier + ".");
}

// The classifier's prefix among `module`'s descendants, the last Linear wins.
void find_last_linear(nn::Module& module, const std::string& prefix, std::string& found) {
  for (auto& [name, child] : module.children()) {
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (child->type_name() == "Linear") found = path;
    find_last_linear(*child, path, found);
  }
}

std::vector<double> host_scores(const NamedScores& s) {
  const Tensor& t = s.scores;
  SPRINT_CHECK(t.defined() && t.device().is_cpu() && t.is_contiguous() && dtype_is_floating(t.dtype()),
               "the scores of {} must be a contiguous floating host tensor", s.name);
  return t.to_vector<double>();
}

}  // namespace

int64_t ParameterMask::kept() const {
  int64_t n = 0;
  for (const Entry& e : entries) n += std::count(e.keep.begin(), e.keep.end(), uint8_t{1});
  return n;
}

int64_t ParameterMask::total() const {
  int64_t n = 0;
  for (const Entry& e : entries) n += static_cast<int64_t>(e.keep.size());
  return n;
}

int64_t ParameterMask::classifier_size() const {
  int64_t n = 0;
  for (const Entry& e : entries)
    if (in_classifier(e.name, classifier)) n += static_cast<int64_t>(e.keep.size());
  return n;
}

const ParameterMask::Entry* ParameterMask::find(const std::string& name) const {
  for (const Entry& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

std::string ParameterMask::hash() const {
  uint64_t h = kFnv1aStart;
  for (const Entry& e : entries) {
    h = fnv1a(h, e.name.data(), e.name.size() + 1);
    for (int64_t d : e.shape) h = fnv1a(h, &d, sizeof d);
    h = fnv1a(h, e.keep.data(), e.keep.size());
  }
  return fmt::format("{:016x}", h);
}

std::string classifier_prefix(nn::Module& net) {
  std::string found;
  find_last_linear(net, "", found);
  return found;
}

ParameterMask top_k_mask(const std::vector<NamedScores>& scores, double keep, const std::string& classifier) {
  SPRINT_CHECK(std::isfinite(keep) && keep > 0.0 && keep <= 1.0, "keep ratio {}: expected a number in (0, 1]", keep);
  ParameterMask mask;
  mask.keep_ratio = keep;
  mask.classifier = classifier;
  // Every entry outside the classifier competes in one ranking: (score, position in the model's order).
  std::vector<double> ranked;
  std::vector<std::pair<size_t, size_t>> spans;  // per parameter: first ranked index, count (classifier: none)
  int64_t total = 0, classifier_size = 0;
  for (const NamedScores& s : scores) {
    std::vector<double> v = host_scores(s);
    ParameterMask::Entry e{s.name, s.scores.shape(), std::vector<uint8_t>(v.size(), 0)};
    total += static_cast<int64_t>(v.size());
    if (in_classifier(s.name, classifier)) {
      std::fill(e.keep.begin(), e.keep.end(), uint8_t{1});
      classifier_size += static_cast<int64_t>(v.size());
      spans.emplace_back(0, 0);
    } else {
      for (double x : v) SPRINT_CHECK(std::isfinite(x), "the scores of {} are not all finite", s.name);
      spans.emplace_back(ranked.size(), v.size());
      ranked.insert(ranked.end(), v.begin(), v.end());
    }
    mask.entries.push_back(std::move(e));
  }
  const auto k_total = static_cast<int64_t>(std::floor(keep * static_cast<double>(total)));
  const auto k = static_cast<size_t>(std::clamp<int64_t>(k_total - classifier_size, 0,
                                                         static_cast<int64_t>(ranked.size())));
  std::vector<uint32_t> order(ranked.size());
  std::iota(order.begin(), order.end(), 0u);
  const auto better = [&](uint32_t a, uint32_t b) { return ranked[a] > ranked[b] || (ranked[a] == ranked[b] && a < b); };
  if (k < order.size()) std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), better);
  std::vector<uint8_t> chosen(ranked.size(), 0);
  for (size_t i = 0; i < k; ++i) chosen[order[i]] = 1;
  for (size_t p = 0; p < mask.entries.size(); ++p) {
    const auto [first, count] = spans[p];
    for (size_t i = 0; i < count; ++i) mask.entries[p].keep[i] = chosen[first + i];
  }
  return mask;
}

ParameterMask random_mask(nn::Module& net, double keep, const std::string& classifier, Generator& rng) {
  std::vector<NamedScores> scores;
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->trainable()) continue;
    Tensor s = Tensor::empty(p->value().shape(), DType::kF32);
    float* v = s.data_as<float>();
    for (int64_t i = 0; i < s.numel(); ++i) v[i] = rng.uniform();
    scores.push_back({name, std::move(s)});
  }
  ParameterMask mask = top_k_mask(scores, keep, classifier);
  mask.method = "random";
  return mask;
}

ParameterMask dense_mask(nn::Module& net) {
  ParameterMask mask;
  mask.method = "dense";
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->trainable()) continue;
    const Shape shape = p->value().shape();
    mask.entries.push_back({name, shape, std::vector<uint8_t>(static_cast<size_t>(shape.product()), 1)});
  }
  return mask;
}

void write_mask(const std::filesystem::path& path, const ParameterMask& mask) {
  std::vector<data::NamedTensor> tensors;
  nlohmann::ordered_json shapes = nlohmann::ordered_json::object();
  for (const ParameterMask::Entry& e : mask.entries) {
    const auto n = static_cast<int64_t>(e.keep.size());
    Tensor bits = Tensor::empty({(n + 7) / 8}, DType::kU8);
    uint8_t* b = bits.data_as<uint8_t>();
    std::fill(b, b + bits.numel(), uint8_t{0});
    for (int64_t i = 0; i < n; ++i)
      if (e.keep[static_cast<size_t>(i)] != 0) b[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    tensors.push_back({e.name, std::move(bits)});
    shapes[e.name] = std::vector<int64_t>(e.shape.begin(), e.shape.end());
  }
  const std::map<std::string, std::string> metadata{
      {"format", kFormat},
      {"version", "1"},
      {"shapes", shapes.dump()},
      {"method", mask.method},
      {"keep_ratio", fmt::format("{}", mask.keep_ratio)},
      {"kept", std::to_string(mask.kept())},
      {"total", std::to_string(mask.total())},
      {"classifier", mask.classifier},
      {"samples", std::to_string(mask.samples)},
      {"hash", mask.hash()},
      {"model", mask.model}};
  data::write_safetensors(path, tensors, metadata);
}

ParameterMask read_mask(const std::filesystem::path& path) { return parse_mask(data::read_safetensors(path)); }

ParameterMask parse_mask(const data::SafetensorsFile& f) {
  const std::string src = f.source();
  SPRINT_CHECK_FORMAT(f.metadata_value("format") == kFormat,
                  "{} is not a sprint mask file (metadata format '{}', expected '{}'; make one with sprint fisher)",
                  src, f.metadata_value("format"), kFormat);
  SPRINT_CHECK_FORMAT(f.metadata_value("version") == "1", "{}: mask file version '{}' is not supported",
                  src, f.metadata_value("version"));
  nlohmann::json shapes;
  try {
    shapes = nlohmann::json::parse(f.metadata_value("shapes"));
  } catch (const nlohmann::json::exception&) {
    SPRINT_THROW(FormatError, "{}: the metadata 'shapes' is not JSON", src);
  }
  SPRINT_CHECK_FORMAT(shapes.is_object() && shapes.size() == f.entries().size(),
                  "{}: the metadata 'shapes' must name every tensor of the file once", src);
  ParameterMask mask;
  mask.method = f.metadata_value("method");
  mask.classifier = f.metadata_value("classifier");
  mask.model = f.metadata_value("model");
  try {
    mask.keep_ratio = std::stod(f.metadata_value("keep_ratio", "nan"));
    mask.samples = std::stoll(f.metadata_value("samples", "0"));
  } catch (const std::exception&) {
    SPRINT_THROW(FormatError, "{}: the metadata 'keep_ratio' or 'samples' is not a number", src);
  }
  // Tensors come back in the order of their data, which is the order they were written in.
  for (const data::SafetensorsFile::Entry& t : f.entries()) {
    const auto it = shapes.find(t.name);
    SPRINT_CHECK_FORMAT(it != shapes.end() && it->is_array() && it->size() < Shape::kMaxDims,
                    "{}: no shape for mask {} in the metadata", src, t.name);
    Shape shape;
    for (const auto& d : *it) {
      SPRINT_CHECK_FORMAT(d.is_number_integer() && d.get<int64_t>() >= 0 && d.get<int64_t>() < (int64_t{1} << 40),
                      "{}: the shape of mask {} is not a list of sizes", src, t.name);
      shape.push_back(d.get<int64_t>());
    }
    const int64_t n = shape.product();
    SPRINT_CHECK_FORMAT(t.dtype == DType::kU8 && t.shape.size() == 1 && t.shape[0] == (n + 7) / 8,
                    "{}: mask {} must be U8 ({}) for shape {}, got {} {}", src, t.name, (n + 7) / 8,
                    shape.to_string(), data::safetensors_dtype_code(t.dtype), t.shape.to_string());
    const std::span<const uint8_t> bytes = f.bytes(t);
    ParameterMask::Entry e{t.name, shape, std::vector<uint8_t>(static_cast<size_t>(n))};
    for (int64_t i = 0; i < n; ++i) e.keep[static_cast<size_t>(i)] = (bytes[static_cast<size_t>(i / 8)] >> (i % 8)) & 1u;
    if (n % 8 != 0)
      SPRINT_CHECK_FORMAT((bytes.back() >> (n % 8)) == 0, "{}: mask {} has bits set past its {} entries", src,
                      t.name, n);
    mask.entries.push_back(std::move(e));
  }
  SPRINT_CHECK_FORMAT(f.metadata_value("kept") == std::to_string(mask.kept()) &&
                                   f.metadata_value("total") == std::to_string(mask.total()),
                  "{}: the metadata counts (kept {}, total {}) disagree with the bits ({} of {})", src,
                  f.metadata_value("kept"), f.metadata_value("total"), mask.kept(), mask.total());
  SPRINT_CHECK_FORMAT(f.metadata_value("hash") == mask.hash(),
                  "{}: the metadata hash {} disagrees with the bits ({})", src, f.metadata_value("hash"), mask.hash());
  return mask;
}

void check_mask_fits(nn::Module& net, const ParameterMask& mask) {
  std::vector<std::string> missing, mismatched, unknown;
  std::unordered_set<std::string> seen;
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->trainable()) continue;
    seen.insert(name);
    const ParameterMask::Entry* e = mask.find(name);
    if (e == nullptr) {
      missing.push_back(name);
    } else if (e->shape != p->value().shape()) {
      mismatched.push_back(fmt::format("{} (mask {}, parameter {})", name, e->shape.to_string(),
                                       p->value().shape().to_string()));
    }
  }
  for (const ParameterMask::Entry& e : mask.entries)
    if (!seen.contains(e.name)) unknown.push_back(e.name);
  const auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 4; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 4) s += fmt::format(" and {} more", names.size() - 4);
    return s;
  };
  SPRINT_CHECK(missing.empty(), "the mask has no entry for the model's parameter(s) {} (a mask of another model?)",
               list(missing));
  SPRINT_CHECK(mismatched.empty(), "the mask does not fit the model: {}", list(mismatched));
  SPRINT_CHECK(unknown.empty(), "the mask names parameter(s) the model does not have: {}", list(unknown));
}

std::unordered_map<const nn::Parameter*, Tensor> update_masks(nn::Module& net, const ParameterMask& mask) {
  check_mask_fits(net, mask);
  std::unordered_map<const nn::Parameter*, Tensor> out;
  for (auto& [name, p] : net.named_parameters()) {
    if (!p->trainable()) continue;
    const ParameterMask::Entry* e = mask.find(name);
    if (std::all_of(e->keep.begin(), e->keep.end(), [](uint8_t b) { return b != 0; })) continue;
    Tensor m = Tensor::empty(e->shape, DType::kF32);
    float* v = m.data_as<float>();
    for (size_t i = 0; i < e->keep.size(); ++i) v[i] = e->keep[i] != 0 ? 1.0f : 0.0f;
    out.emplace(p.get(), std::move(m));
  }
  return out;
}

}  // namespace sprint::train
