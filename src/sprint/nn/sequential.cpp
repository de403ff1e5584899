// sequential.cpp: Sequential container; each child runs through forward_child / backward_child (observed).
#include "sprint/nn/sequential.h"

#include <algorithm>

#include "sprint/nn/layer_observer.h"

namespace sprint::nn {

Sequential::Sequential(std::vector<ModulePtr> modules) {
  for (auto& m : modules) add(std::move(m));
}

Sequential& Sequential::add(ModulePtr module, std::string name) {
  SPRINT_CHECK(module != nullptr, "Sequential::add: null module");
  if (name.empty()) name = std::to_string(modules_.size());
  module->set_training(training());
  modules_.push_back(std::move(module));
  names_.push_back(std::move(name));
  update_gradient_flow();
  return *this;
}

Sequential& Sequential::insert_front(ModulePtr module, std::string name) {
  SPRINT_CHECK(module != nullptr, "Sequential::insert_front: null module");
  SPRINT_CHECK(!name.empty() && std::find(names_.begin(), names_.end(), name) == names_.end(),
               "Sequential::insert_front: the name '{}' is empty or taken", name);
  module->set_training(training());
  modules_.insert(modules_.begin(), std::move(module));
  names_.insert(names_.begin(), std::move(name));
  update_gradient_flow();
  return *this;
}

std::string Sequential::describe() const {
  std::string out = "Sequential(";
  for (size_t i = 0; i < modules_.size(); ++i) out += fmt::format("\n  ({}) {}", names_[i], modules_[i]->describe());
  return out + "\n)";
}

Tensor Sequential::forward(RunContext& ctx, const Tensor& x) {
  Tensor h = x;
  for (size_t i = 0; i < modules_.size(); ++i) h = forward_child(ctx, names_[i], *modules_[i], h);
  return h;
}

Tensor Sequential::backward(RunContext& ctx, const Tensor& dy) {
  Tensor g = dy;
  for (size_t i = modules_.size(); i-- > 0;) {
    g = backward_child(ctx, names_[i], *modules_[i], g);
    // No input gradient: nothing in front of module i is trained (update_gradient_flow), nothing left to do.
    if (!g.defined()) break;
  }
  return g;
}

Shape Sequential::output_shape(const Shape& input) const {
  Shape s = input;
  for (const auto& m : modules_) s = m->output_shape(s);
  return s;
}

std::vector<std::pair<std::string, Module*>> Sequential::children() {
  std::vector<std::pair<std::string, Module*>> out;
  for (size_t i = 0; i < modules_.size(); ++i) out.emplace_back(names_[i], modules_[i].get());
  return out;
}

void Sequential::set_training(bool on) {
  Module::set_training(on);
  for (auto& m : modules_) m->set_training(on);
}

void Sequential::set_needs_input_grad(bool on) {
  Module::set_needs_input_grad(on);
  update_gradient_flow();
}

void Sequential::update_gradient_flow() {
  // Module i must produce its input gradient when the caller wants one or when some module before it has a
  // trainable parameter. Modules in front of the first one (Flatten before the first Linear; airbench94's first
  // convolution once its whitening bias is frozen) skip their input gradient. Freezing or unfreezing a
  // parameter changes this: call set_needs_input_grad() on the model again afterwards (the Trainer does so after
  // Model::on_epoch_start).
  bool upstream_wants = needs_input_grad();
  for (auto& m : modules_) {
    m->set_needs_input_grad(upstream_wants);
    for (const auto& [name, p] : m->named_parameters()) upstream_wants = upstream_wants || p->trainable();
  }
}

}  // namespace sprint::nn
