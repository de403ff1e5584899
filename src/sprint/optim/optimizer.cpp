// optimizer.cpp: grouping of parameters into update sets by effective settings and the common step loop.
#include "sprint/optim/optimizer.h"

#include <unordered_set>

#include "sprint/backend/api/optimizer.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {

std::vector<ParamGroup> single_group(nn::Module& module) {
  ParamGroup g;
  g.params = module.parameters();
  g.name = "all";
  return {g};
}

namespace {
void collect_batch_norm_biases(nn::Module& m, std::unordered_set<const nn::Parameter*>& out) {
  if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m); bn && bn->bias()) out.insert(bn->bias().get());
  for (auto& [name, child] : m.children()) collect_batch_norm_biases(*child, out);
}
}  // namespace

std::vector<ParamGroup> batch_norm_bias_groups(nn::Module& module, double bias_lr_scale, double weight_decay) {
  SPRINT_CHECK(bias_lr_scale > 0.0, "the BatchNorm-bias lr scale must be > 0, got {}", bias_lr_scale);
  std::unordered_set<const nn::Parameter*> biases;
  collect_batch_norm_biases(module, biases);
  ParamGroup norm{.params = {}, .lr_scale = bias_lr_scale, .weight_decay = weight_decay / bias_lr_scale,
                  .name = "norm biases"};
  ParamGroup other{.params = {}, .lr_scale = 1.0, .weight_decay = weight_decay, .name = "other"};
  for (const nn::ParameterPtr& p : module.parameters()) (biases.count(p.get()) ? norm : other).params.push_back(p);
  return {norm, other};
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double default_weight_decay) : lr_(lr) {
  SPRINT_CHECK(lr >= 0.0, "learning rate must be >= 0, got {}", lr);
  std::unordered_set<const nn::Parameter*> seen;
  for (const ParamGroup& g : groups) {
    SPRINT_CHECK(g.lr_scale >= 0.0, "group {} has a negative lr scale", g.name);
    const double group_wd = g.weight_decay.value_or(default_weight_decay);
    for (const nn::ParameterPtr& p : g.params) {
      SPRINT_CHECK(p != nullptr, "null parameter in group {}", g.name);
      SPRINT_CHECK(seen.insert(p.get()).second, "parameter {} appears in more than one group", p->name());
      const double scale = g.lr_scale * p->lr_scale;
      const double wd = p->weight_decay ? group_wd : 0.0;
      UpdateSet* members = nullptr;
      for (UpdateSet& b : update_sets_)
        if (b.lr_scale == scale && b.weight_decay == wd) members = &b;
      if (!members) {
        update_sets_.push_back({scale, wd, {}});
        members = &update_sets_.back();
      }
      members->params.push_back(p);
    }
  }
  size_t largest = 0;
  for (const UpdateSet& b : update_sets_) largest = std::max(largest, b.params.size());
  active_.reserve(largest);
}

void Optimizer::set_lr(double lr) {
  SPRINT_CHECK(lr >= 0.0, "learning rate must be >= 0, got {}", lr);
  lr_ = lr;
}

double Optimizer::effective_lr(const nn::Parameter& param) const {
  for (const UpdateSet& b : update_sets_)
    for (const nn::ParameterPtr& p : b.params)
      if (p.get() == &param) return lr_ * b.lr_scale;
  SPRINT_CHECK(false, "the optimizer does not update {}", param.name());
  return 0.0;
}

void Optimizer::set_momentum(std::optional<double> momentum) {
  SPRINT_CHECK(!momentum || (*momentum >= 0.0 && *momentum < 1.0 + 1e-12), "momentum must be in [0, 1], got {}",
               momentum.value_or(0.0));
  momentum_ = momentum;
}

void Optimizer::zero_grad() {
  for (UpdateSet& b : update_sets_)
    for (auto& p : b.params) p->zero_grad();
}

const Tensor& Optimizer::write_step_values(const Stream& stream, double grad_scale) {
  // On a CPU stream the kernels read the host values in place: memory of that (possibly logical) host device.
  const bool on_host = stream.device().is_cpu();
  if (!host_step_values_.defined() || (on_host && host_step_values_.device() != stream.device()))
    host_step_values_ = Tensor::empty({kStepValueCount}, DType::kF64, on_host ? stream.allocator() : cpu_allocator());
  double* v = host_step_values_.data_as<double>();
  v[static_cast<int>(StepValue::kLr)] = lr_;
  v[static_cast<int>(StepValue::kMomentum)] = momentum_.value_or(step_momentum());
  v[static_cast<int>(StepValue::kGradScale)] = grad_scale;
  v[static_cast<int>(StepValue::kStep)] = static_cast<double>(step_count_);
  if (on_host) return host_step_values_;
  if (!device_step_values_.defined() || device_step_values_.device() != stream.device())
    device_step_values_ = Tensor::empty({kStepValueCount}, DType::kF64, stream.allocator());
  if (!stream.context().is_capturing(stream)) ops::copy(stream, host_step_values_, device_step_values_);
  return device_step_values_;
}

void Optimizer::plan_steps(const Stream& stream, const std::vector<PlannedStep>& plan) {
  SPRINT_CHECK(!plan.empty(), "a step plan needs at least one step");
  Tensor host = Tensor::empty({static_cast<int64_t>(plan.size()), kStepValueCount}, DType::kF64);
  double* v = host.data_as<double>();
  for (size_t t = 0; t < plan.size(); ++t) {
    const PlannedStep& p = plan[t];
    SPRINT_CHECK(p.lr >= 0.0, "planned step {}: learning rate must be >= 0, got {}", t + 1, p.lr);
    double* row = v + t * kStepValueCount;
    row[static_cast<int>(StepValue::kLr)] = p.lr;
    row[static_cast<int>(StepValue::kMomentum)] = p.momentum.value_or(momentum_.value_or(step_momentum()));
    row[static_cast<int>(StepValue::kGradScale)] = p.grad_scale;
    row[static_cast<int>(StepValue::kStep)] = static_cast<double>(t + 1);
  }
  host_plan_ = host;
  plan_ = ops::to_stream_device(stream, host);
  plan_cursor_ = ops::to_stream_device(stream, Tensor::from_values(std::vector<int64_t>{0}, {1}));
  host_cursor_ = Tensor::from_values(std::vector<int64_t>{0}, {1});
  if (!device_step_values_.defined() || device_step_values_.device() != stream.device())
    device_step_values_ = Tensor::empty({kStepValueCount}, DType::kF64, stream.allocator());
}

void Optimizer::count_replayed_step() {
  ++step_count_;
  if (plan_.defined() && step_count_ <= plan_.dim(0))
    lr_ = host_plan_.data_as<double>()[(step_count_ - 1) * kStepValueCount + static_cast<int>(StepValue::kLr)];
}

void Optimizer::check_planned_step(int64_t step, double grad_scale) const {
  SPRINT_CHECK(step <= plan_.dim(0), "optimizer step {} is past the planned {} steps", step, plan_.dim(0));
  const double planned =
      host_plan_.data_as<double>()[(step - 1) * kStepValueCount + static_cast<int>(StepValue::kGradScale)];
  SPRINT_CHECK(planned == grad_scale, "optimizer step {}: gradient scale {} differs from the planned {}", step,
               grad_scale, planned);
}

const Tensor& Optimizer::select_planned_values(const Stream& stream) {
  lr_ = host_plan_.data_as<double>()[(step_count_ - 1) * kStepValueCount + static_cast<int>(StepValue::kLr)];
  if (!stream.context().is_capturing(stream)) {  // the host knows which step this is: set the cursor
    host_cursor_.data_as<int64_t>()[0] = step_count_ - 1;
    ops::copy(stream, host_cursor_, plan_cursor_);
  }
  ops::step_values_select(stream, {.table = plan_, .cursor = plan_cursor_, .out = device_step_values_});
  return device_step_values_;
}

void Optimizer::step(const Stream& stream, double grad_scale) {
  if (plan_.defined()) check_planned_step(step_count_ + 1, grad_scale);
  ++step_count_;
  const Tensor& step_values = plan_.defined() ? select_planned_values(stream) : write_step_values(stream, grad_scale);
  for (size_t b = 0; b < update_sets_.size(); ++b) {
    active_.clear();
    const UpdateSet& members = update_sets_[b];
    for (size_t i = 0; i < members.params.size(); ++i)
      if (members.params[i]->trainable() && members.params[i]->has_grad()) active_.push_back(i);
    if (!active_.empty()) update_set(stream, b, active_, step_values);
  }
}

ParameterPaths parameter_paths(nn::Module& model) {
  ParameterPaths out;
  for (auto& [path, p] : model.named_parameters()) out.emplace(p.get(), path);
  return out;
}

namespace {
const std::string& path_of(const ParameterPaths& paths, const nn::Parameter* p) {
  const auto it = paths.find(p);
  SPRINT_ASSERT(it != paths.end(), "optimizer parameter {} is not part of the model", p->name());
  return it->second;
}
}  // namespace

std::vector<nn::NamedBuffer> Optimizer::named_state(const ParameterPaths& paths) {
  std::vector<nn::NamedBuffer> out;
  for (const StateSlot& s : state_slots())
    if (s.tensor->defined()) out.push_back({path_of(paths, s.param) + "." + s.kind, *s.tensor});
  return out;
}

std::vector<std::string> Optimizer::load_state(const Stream& stream, const ParameterPaths& paths,
                                               const std::function<Tensor(const std::string&)>& find) {
  std::vector<std::string> loaded;
  for (const StateSlot& s : state_slots()) {
    const std::string name = path_of(paths, s.param) + "." + s.kind;
    const Tensor src = find(name);
    if (!src.defined()) continue;
    const Tensor& value = s.param->master_value();
    if (src.shape() != value.shape())
      SPRINT_THROW(FormatError, "optimizer state {} is {}, its parameter is {}", name, src.shape().to_string(),
                   value.shape().to_string());
    // On the parameter's device (a pipeline stage's may differ from `stream`'s).
    if (!s.tensor->defined())
      *s.tensor = Tensor::empty(value.shape(), value.dtype(), device_context(value.device()).allocator(),
                                value.memory_format());
    ops::copy(stream, ops::to_stream_device(stream, src), *s.tensor);
    loaded.push_back(name);
  }
  return loaded;
}

void Optimizer::restore_progress(const OptimizerProgress& progress) {
  SPRINT_CHECK(progress.step_count >= 0, "optimizer step count must be >= 0, got {}", progress.step_count);
  set_lr(progress.lr);
  step_count_ = progress.step_count;
}

std::string Optimizer::describe_update_sets() const {
  std::string out;
  for (const UpdateSet& b : update_sets_)
    out += fmt::format("{}lr_scale={} weight_decay={} params={}", out.empty() ? "" : "; ", b.lr_scale,
                       b.weight_decay, b.params.size());
  return out;
}

void Optimizer::set_update_masks(const Stream& stream,
                                 const std::unordered_map<const nn::Parameter*, Tensor>& masks,
                                 UpdateMaskMode mode) {
  std::vector<std::vector<Tensor>> stored(update_sets_.size());
  size_t found = 0;
  for (size_t b = 0; b < update_sets_.size(); ++b) {
    stored[b].resize(update_sets_[b].params.size());
    for (size_t i = 0; i < update_sets_[b].params.size(); ++i) {
      const nn::Parameter& p = *update_sets_[b].params[i];
      const auto it = masks.find(&p);
      if (it == masks.end()) continue;
      ++found;
      const Tensor& value = p.master_value();
      SPRINT_CHECK(it->second.defined() && it->second.shape() == value.shape(),
                   "the update mask of {} has shape {}, the parameter {}", p.name(),
                   it->second.defined() ? it->second.shape().to_string() : "(none)", value.shape().to_string());
      stored[b][i] =
          ops::cast_to(stream, ops::to_stream_device(stream, it->second), value.dtype(), value.memory_format());
    }
  }
  SPRINT_CHECK(found == masks.size(), "{} of the {} update masks are for parameters this optimizer does not update",
               masks.size() - found, masks.size());
  masks_ = masks.empty() ? std::vector<std::vector<Tensor>>{} : std::move(stored);
  mask_mode_ = mode;
}

const Tensor& Optimizer::update_mask(const Stream& stream, size_t b, size_t i) {
  static const Tensor kNone;
  if (masks_.empty() || !masks_[b][i].defined()) return kNone;
  Tensor& mask = masks_[b][i];
  const Tensor& value = update_sets_[b].params[i]->master_value();
  if (mask.memory_format() != value.memory_format() || mask.dtype() != value.dtype() ||
      mask.device() != value.device())  // the layer changed its weights' layout, or the model moved
    mask = ops::cast_to(stream, ops::to_stream_device(stream, mask), value.dtype(), value.memory_format());
  return mask;
}

}  // namespace sprint::optim
