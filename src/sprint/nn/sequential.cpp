// sequential.cpp: Sequential container.
#include "sprint/nn/sequential.h"

namespace sprint::nn {

Sequential::Sequential(std::vector<ModulePtr> modules) {
  for (auto& m : modules) add(std::move(m));
}

Sequential& Sequential::add(ModulePtr module, std::string name) {
  SPRINT_CHECK(module != nullptr, "Sequential::add: null module");
  if (name.empty()) name = std::to_string(modules_.size());
  module->set_training(training());
  // Every module after the first feeds gradients to its predecessor.
  module->set_needs_input_grad(modules_.empty() ? needs_input_grad() : true);
  modules_.push_back(std::move(module));
  names_.push_back(std::move(name));
  return *this;
}

std::string Sequential::describe() const {
  std::string out = "Sequential(";
  for (size_t i = 0; i < modules_.size(); ++i) out += fmt::format("\n  ({}) {}", names_[i], modules_[i]->describe());
  return out + "\n)";
}

Tensor Sequential::forward(RunContext& ctx, const Tensor& x) {
  Tensor h = x;
  for (auto& m : modules_) h = m->forward(ctx, h);
  return h;
}

Tensor Sequential::backward(RunContext& ctx, const Tensor& dy) {
  Tensor g = dy;
  for (size_t i = modules_.size(); i-- > 0;) g = modules_[i]->backward(ctx, g);
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
  if (!modules_.empty()) modules_.front()->set_needs_input_grad(on);
}

}  // namespace sprint::nn
