// sequential.h: Sequential, a chain of modules run in order (forward) and in reverse (backward).
#pragma once

#include <string>
#include <vector>

#include "sprint/nn/module.h"

namespace sprint::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> modules);

  /// Appends a module; its name is its index unless given.
  Sequential& add(ModulePtr module, std::string name = "");
  /// Puts a module in front of the others, named `name` (the others keep their names, so their parameters keep
  /// their paths).
  Sequential& insert_front(ModulePtr module, std::string name);
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    auto m = std::make_shared<M>(std::forward<Args>(args)...);
    add(m);
    return *m;
  }

  std::string type_name() const override { return "Sequential"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  std::vector<std::pair<std::string, Module*>> children() override;
  void set_training(bool on) override;
  /// Propagates to the children: see update_gradient_flow().
  void set_needs_input_grad(bool on) override;

  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) const { return *modules_[i]; }
  const ModulePtr& at(size_t i) const { return modules_.at(i); }

 private:
  void update_gradient_flow();

  std::vector<ModulePtr> modules_;
  std::vector<std::string> names_;
};

}  // namespace sprint::nn
