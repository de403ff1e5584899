// checkpoint.cpp: state_dict files and checkpoint directories (see checkpoint.h).
#include "sprint/train/checkpoint.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <charconv>
#include <functional>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "sprint/config.h"
#include "sprint/data/file_io.h"
#include "sprint/ops/elementwise.h"

namespace sprint::train {
namespace {
namespace fs = std::filesystem;

constexpr const char* kLatest = "latest.safetensors";
constexpr const char* kStateKind = "sprint-training-state";

Tensor host_logical(const Stream& stream, const Tensor& t) {
  const Tensor contiguous = t.is_contiguous() ? t : ops::cast_to(stream, t, t.dtype());
  return ops::to_host(stream, contiguous);
}

// One tensor of the model's state: where loading puts it. A parameter shared by several modules is one target
// per path (as PyTorch's state_dict); the later ones name the first in alias_of.
struct Target {
  std::string name;
  Shape shape;
  std::function<void(const Tensor&)> load;
  std::string alias_of = {};
};

std::vector<Target> targets(const Stream& stream, nn::Module& net) {
  std::vector<Target> out;
  std::unordered_map<const nn::Parameter*, std::string> first_path;
  for (auto& [name, p] : net.named_parameters(nn::SharedPaths::kEvery)) {
    const auto [it, first] = first_path.emplace(p.get(), name);
    out.push_back({name, p->value().shape(), [&stream, p](const Tensor& t) { p->load_value(stream, t); },
                   first ? std::string() : it->second});
  }
  for (const nn::NamedBuffer& b : net.named_buffers()) {
    const Tensor dst = b.value;
    out.push_back({b.name, dst.shape(), [&stream, dst](const Tensor& t) {
                     ops::copy(stream, ops::to_stream_device(stream, t), dst);
                   }});
  }
  for (const nn::NamedCounter& c : net.named_counters()) {
    int64_t* value = c.value;
    out.push_back({c.name, Shape{}, [value](const Tensor& t) {
                     *value = static_cast<int64_t>(t.to_vector<double>()[0]);
                   }});
  }
  return out;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 6);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += fmt::format(" and {} more", names.size() - shown);
  return out;
}

std::string step_name(int64_t step) { return fmt::format("step-{:08d}", step); }

// Steps of the saves in `dir` (files step-<S>.safetensors), ascending.
std::vector<int64_t> saved_steps(const fs::path& dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    constexpr std::string_view prefix = "step-", suffix = ".safetensors";
    if (name.size() <= prefix.size() + suffix.size() || !name.starts_with(prefix) || !name.ends_with(suffix))
      continue;
    const std::string_view digits(name.data() + prefix.size(), name.size() - prefix.size() - suffix.size());
    int64_t step = 0;
    const auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
    if (err == std::errc() && ptr == digits.data() + digits.size()) steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

const std::string& meta(const data::SafetensorsFile& f, const std::string& key) {
  const auto it = f.metadata().find(key);
  if (it == f.metadata().end()) SPRINT_THROW(FormatError, "{}: metadata has no \"{}\"", f.source(), key);
  return it->second;
}

template <class T>
T meta_number(const data::SafetensorsFile& f, const std::string& key) {
  const std::string& text = meta(f, key);
  T value{};
  const auto [ptr, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || ptr != text.data() + text.size())
    SPRINT_THROW(FormatError, "{}: metadata \"{}\" is \"{}\", not a number", f.source(), key, text);
  return value;
}
}  // namespace

std::vector<data::NamedTensor> model_state_dict(const Stream& stream, nn::Module& net) {
  std::vector<data::NamedTensor> out;
  for (auto& [name, p] : net.named_parameters(nn::SharedPaths::kEvery))
    out.push_back({name, host_logical(stream, p->master_value())});
  for (const nn::NamedBuffer& b : net.named_buffers()) out.push_back({b.name, host_logical(stream, b.value)});
  for (const nn::NamedCounter& c : net.named_counters())
    out.push_back({c.name, Tensor::from_values(std::vector<int64_t>{*c.value}, {})});
  return out;
}

LoadResult load_model_state(const Stream& stream, nn::Module& net, const data::SafetensorsFile& file, bool strict) {
  LoadResult r;
  std::vector<std::pair<const Target*, const data::SafetensorsFile::Entry*>> matched;
  const std::vector<Target> wanted = targets(stream, net);
  std::vector<std::string> known;
  for (const Target& t : wanted) {
    known.push_back(t.name);
    const data::SafetensorsFile::Entry* e = file.find(t.name);
    if (!e) {
      r.missing.push_back(t.name);
    } else if (e->shape != t.shape) {
      r.mismatched.push_back(fmt::format("{} (file {}, model {})", t.name, e->shape.to_string(), t.shape.to_string()));
    } else {
      matched.emplace_back(&t, e);
    }
  }
  for (const data::SafetensorsFile::Entry& e : file.entries())
    if (std::find(known.begin(), known.end(), e.name) == known.end()) r.unexpected.push_back(e.name);
  if (strict && (!r.missing.empty() || !r.unexpected.empty() || !r.mismatched.empty())) {
    std::string why;
    if (!r.missing.empty()) why += fmt::format("; missing: {}", name_list(r.missing));
    if (!r.unexpected.empty()) why += fmt::format("; unexpected: {}", name_list(r.unexpected));
    if (!r.mismatched.empty()) why += fmt::format("; wrong shape: {}", name_list(r.mismatched));
    SPRINT_THROW(FormatError, "{} does not fit the model{}", file.source(), why);
  }
  for (const auto& [target, entry] : matched) {
    const data::SafetensorsFile::Entry* first = target->alias_of.empty() ? nullptr : file.find(target->alias_of);
    if (first) {  // a second path of a shared parameter: the file must hold the same values under both
      if (file.tensor(*first).to_vector<double>() != file.tensor(*entry).to_vector<double>())
        SPRINT_THROW(FormatError, "{}: {} and {} are one shared weight in this model but differ in the file",
                     file.source(), target->alias_of, target->name);
    } else {
      target->load(file.tensor(*entry));
    }
    r.loaded.push_back(target->name);
  }
  return r;
}

fs::path resolve_checkpoint(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path latest = path / kLatest;
    if (!fs::exists(latest, ec))
      SPRINT_THROW(IoError, "{} is a directory without a checkpoint ({} is missing)", path.string(), kLatest);
    return latest;
  }
  if (!fs::exists(path, ec)) SPRINT_THROW(IoError, "checkpoint {} does not exist", path.string());
  return path;
}

void save_weights(const fs::path& path, const Stream& stream, nn::Module& net, const std::string& model,
                  int64_t step, const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> metadata = extra;
  metadata["format"] = "pt";
  metadata["model"] = model;
  metadata["sprint_version"] = SPRINT_VERSION;
  metadata["step"] = std::to_string(step);
  data::write_safetensors(path, model_state_dict(stream, net), metadata);
}

fs::path save_checkpoint(const fs::path& dir, const Stream& stream, nn::Module& net, const std::string& model,
                         const RunState& s, int keep) {
  SPRINT_CHECK(keep >= 1, "checkpoints to keep must be >= 1, got {}", keep);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) SPRINT_THROW(IoError, "cannot create checkpoint directory {}: {}", dir.string(), ec.message());
  const int64_t step = s.trainer.steps_done;
  const std::string base = step_name(step);

  std::vector<data::NamedTensor> tensors;
  for (const nn::NamedBuffer& b : s.optimizer_state)
    tensors.push_back({"optimizer." + b.name, host_logical(stream, b.value)});
  for (const nn::NamedBuffer& b : s.trainer.lookahead)
    tensors.push_back({"lookahead." + b.name, host_logical(stream, b.value)});
  for (const nn::NamedBuffer& b : s.trainer.gradients)
    tensors.push_back({"gradient." + b.name, host_logical(stream, b.value)});
  tensors.push_back({"trainer.loss_sum", s.trainer.loss_sum});
  if (s.trainer.loss_scale.defined()) tensors.push_back({"trainer.loss_scale", s.trainer.loss_scale});
  std::map<std::string, std::string> metadata = {
      {"kind", kStateKind},
      {"weights", base + ".safetensors"},
      {"step", std::to_string(step)},
      {"epoch", std::to_string(s.trainer.epoch)},
      {"batch", std::to_string(s.trainer.batch)},
      {"samples", std::to_string(s.trainer.samples)},
      {"rng_seed", std::to_string(s.trainer.rng.seed)},
      {"rng_offset", std::to_string(s.trainer.rng.offset)},
      {"optimizer_step", std::to_string(s.optimizer.step_count)},
      {"optimizer_lr", fmt::format("{}", s.optimizer.lr)},
      {"optimizer_groups", s.optimizer_groups},
      {"command", nlohmann::json(s.command).dump()},
      {"report_epochs", s.report_epochs},
  };
  if (s.trainer.loss_scale.defined()) metadata["skipped_steps"] = std::to_string(s.trainer.skipped_steps);
  if (!s.trainer.pipeline_boundaries.empty()) {
    metadata["pipeline_boundaries"] = nlohmann::json(s.trainer.pipeline_boundaries).dump();
    nlohmann::json generators = nlohmann::json::array();
    for (const GeneratorState& g : s.trainer.stage_generators)
      generators.push_back({std::to_string(g.seed), std::to_string(g.offset)});  // strings: 64-bit exact
    metadata["stage_generators"] = generators.dump();
  }
  data::write_safetensors(dir / (base + ".state.safetensors"), tensors, metadata);
  const fs::path weights = dir / (base + ".safetensors");
  save_weights(weights, stream, net, model, step, {{"state", base + ".state.safetensors"}});

  // latest.safetensors becomes a second name of the new weights: link under a temporary name, rename over.
  const fs::path latest = dir / kLatest, tmp = data::temp_sibling(latest);
  if (::link(weights.c_str(), tmp.c_str()) != 0) {
    const int err = errno;
    SPRINT_THROW(IoError, "cannot link {} to {}: {}", weights.string(), tmp.string(), std::strerror(err));
  }
  fs::rename(tmp, latest, ec);
  if (ec) {
    fs::remove(tmp, ec);
    SPRINT_THROW(IoError, "cannot replace {}: {}", latest.string(), ec.message());
  }
  data::sync_directory_of(latest);

  const std::vector<int64_t> steps = saved_steps(dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < steps.size(); ++i) {
    if (steps[i] == step) continue;
    fs::remove(dir / (step_name(steps[i]) + ".safetensors"), ec);
    fs::remove(dir / (step_name(steps[i]) + ".state.safetensors"), ec);
  }
  return weights;
}

std::function<Tensor(const std::string&)> tensors_with_prefix(const data::SafetensorsFile& file, std::string prefix) {
  return [&file, prefix = std::move(prefix)](const std::string& name) {
    const data::SafetensorsFile::Entry* e = file.find(prefix + name);
    return e ? file.tensor(*e) : Tensor();
  };
}

LoadedCheckpoint load_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    SPRINT_THROW(IoError, "--resume {}: not a checkpoint directory (saved by --checkpoint-dir)", dir.string());
  const fs::path weights_path = resolve_checkpoint(dir);
  data::SafetensorsFile weights = data::read_safetensors(weights_path);
  const std::string state_name = meta(weights, "state");
  if (state_name.find('/') != std::string::npos || state_name.find("..") != std::string::npos)
    SPRINT_THROW(FormatError, "{}: metadata \"state\" names {}, not a file beside it", weights.source(), state_name);
  data::SafetensorsFile state = data::read_safetensors(dir / state_name);
  if (meta(state, "kind") != kStateKind)
    SPRINT_THROW(FormatError, "{}: not a sprint training state (kind \"{}\")", state.source(), meta(state, "kind"));
  LoadedCheckpoint c{weights_path, std::move(weights), std::move(state), 0, {}};
  const int64_t step = meta_number<int64_t>(c.weights, "step");
  if (meta_number<int64_t>(c.state, "step") != step)
    SPRINT_THROW(FormatError, "{} is from step {}, its weights {} from step {}", c.state.source(),
                 meta(c.state, "step"), c.weights.source(), step);
  c.step = step;
  RunState& r = c.run;
  r.trainer.steps_done = step;
  r.trainer.epoch = meta_number<int64_t>(c.state, "epoch");
  r.trainer.batch = meta_number<int64_t>(c.state, "batch");
  r.trainer.samples = meta_number<int64_t>(c.state, "samples");
  r.trainer.rng = {meta_number<uint64_t>(c.state, "rng_seed"), meta_number<uint64_t>(c.state, "rng_offset")};
  r.trainer.loss_sum = c.state.tensor("trainer.loss_sum");
  if (const data::SafetensorsFile::Entry* e = c.state.find("trainer.loss_scale")) {
    r.trainer.loss_scale = c.state.tensor(*e);
    r.trainer.skipped_steps = meta_number<int64_t>(c.state, "skipped_steps");
  }
  if (c.state.metadata().count("pipeline_boundaries") != 0) {
    try {
      r.trainer.pipeline_boundaries =
          nlohmann::json::parse(meta(c.state, "pipeline_boundaries")).get<std::vector<size_t>>();
      for (const auto& g : nlohmann::json::parse(meta(c.state, "stage_generators")))
        r.trainer.stage_generators.push_back(
            {std::stoull(g.at(0).get<std::string>()), std::stoull(g.at(1).get<std::string>())});
    } catch (const std::exception& e) {
      SPRINT_THROW(FormatError, "{}: metadata \"pipeline_boundaries\" / \"stage_generators\" is malformed ({})",
                   c.state.source(), e.what());
    }
    if (r.trainer.pipeline_boundaries.empty())
      SPRINT_THROW(FormatError, "{}: metadata \"pipeline_boundaries\" is empty", c.state.source());
  }
  r.optimizer.step_count = meta_number<int64_t>(c.state, "optimizer_step");
  r.optimizer.lr = meta_number<double>(c.state, "optimizer_lr");
  r.optimizer_groups = meta(c.state, "optimizer_groups");
  r.report_epochs = meta(c.state, "report_epochs");
  try {
    r.command = nlohmann::json::parse(meta(c.state, "command")).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    SPRINT_THROW(FormatError, "{}: metadata \"command\" is not a list of arguments ({})", c.state.source(), e.what());
  }
  return c;
}

}  // namespace sprint::train
