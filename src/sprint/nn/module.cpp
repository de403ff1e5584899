// module.cpp: parameter/buffer traversal and device moves shared by every module.
#include "sprint/nn/module.h"

#include <algorithm>
#include <unordered_set>

#include "sprint/ops/elementwise.h"

namespace sprint::nn {

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::kForward:
      return "forward";
    case Phase::kBackward:
      return "backward";
  }
  return "unknown";
}

ParameterPtr Module::add_parameter(ParameterPtr parameter) {
  own_parameters_.push_back(parameter);
  return parameter;
}

void Module::add_buffer(std::string name, Tensor* value) { own_buffers_.emplace_back(std::move(name), value); }

void Module::replace_parameter(const ParameterPtr& current, ParameterPtr shared) {
  SPRINT_CHECK(shared && current, "replace_parameter needs two parameters");
  SPRINT_CHECK(shared->name() == current->name(), "cannot share parameter {} as {}", shared->name(),
               current->name());
  const auto it = std::find(own_parameters_.begin(), own_parameters_.end(), current);
  SPRINT_CHECK(it != own_parameters_.end(), "{} does not own the parameter {} it should share", describe(),
               current->name());
  *it = std::move(shared);
}

std::vector<std::pair<std::string, ParameterPtr>> Module::named_parameters(SharedPaths shared) {
  std::vector<std::pair<std::string, ParameterPtr>> out;
  std::unordered_set<const Parameter*> seen;
  struct Walker {
    std::vector<std::pair<std::string, ParameterPtr>>& out;
    std::unordered_set<const Parameter*>& seen;
    SharedPaths shared;
    void operator()(Module& m, const std::string& prefix) {
      for (const ParameterPtr& p : m.own_parameters_)
        if (seen.insert(p.get()).second || shared == SharedPaths::kEvery) out.emplace_back(prefix + p->name(), p);
      for (auto& [name, child] : m.children()) (*this)(*child, prefix + name + ".");
    }
  };
  Walker{out, seen, shared}(*this, "");
  return out;
}

std::vector<ParameterPtr> Module::parameters() {
  std::vector<ParameterPtr> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<NamedBuffer> Module::named_buffers() {
  std::vector<NamedBuffer> out;
  struct Walker {
    std::vector<NamedBuffer>& out;
    void operator()(Module& m, const std::string& prefix) {
      for (auto& [name, t] : m.own_buffers_) out.push_back({prefix + name, *t});
      for (auto& [name, child] : m.children()) (*this)(*child, prefix + name + ".");
    }
  };
  Walker{out}(*this, "");
  return out;
}

void Module::add_counter(std::string name, int64_t* value) { own_counters_.emplace_back(std::move(name), value); }

std::vector<NamedCounter> Module::named_counters() {
  std::vector<NamedCounter> out;
  struct Walker {
    std::vector<NamedCounter>& out;
    void operator()(Module& m, const std::string& prefix) {
      for (auto& [name, v] : m.own_counters_) out.push_back({prefix + name, v});
      for (auto& [name, child] : m.children()) (*this)(*child, prefix + name + ".");
    }
  };
  Walker{out}(*this, "");
  return out;
}

int64_t Module::n_parameters() {
  int64_t n = 0;
  for (const ParameterPtr& p : parameters())
    if (p->trainable()) n += p->value().numel();
  return n;
}

void Module::to_device(const Stream& stream) {
  for (const ParameterPtr& p : own_parameters_) p->move_to(stream);
  for (auto& [name, t] : own_buffers_)
    if (t->defined() && t->device() != stream.device()) *t = ops::to_stream_device(stream, *t);
  workspace_.clear();
  for (auto& [name, child] : children()) child->to_device(stream);
}

Tensor Module::output_buffer(RunContext& ctx, int id, const Shape& shape, DType dtype, MemoryFormat format) {
  if (ctx.pool) return ctx.pool->acquire(ctx.stream, shape, dtype, format);
  return workspace_.get(ctx.stream, ctx.buffers, id, shape, dtype, format);
}

Tensor Module::gradient_buffer(RunContext& ctx, int id, const Shape& shape, DType dtype, MemoryFormat format) {
  return output_buffer(ctx, id, shape, dtype, format);  // one pool serves both
}

}  // namespace sprint::nn
