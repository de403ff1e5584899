// optimizer_state_test.cpp: optimizer state for checkpoints. State is named by the parameter's dotted path and
// PyTorch's kind ("fc.weight.momentum_buffer"); an optimizer that loads another's state and progress continues
// bit for bit as the original does, whatever was made lazily before.
#include <gtest/gtest.h>

#include <map>

#include "sprint/core/error.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

struct Params {
  nn::ParameterPtr weight = std::make_shared<nn::Parameter>(
      "weight", Tensor::from_values(std::vector<float>{0.5f, -1.25f, 2.0f}, {3}));
  nn::ParameterPtr bias = std::make_shared<nn::Parameter>("bias", Tensor::from_values(std::vector<float>{0.1f}, {1}));
  ParameterPaths paths() const { return {{weight.get(), "fc.weight"}, {bias.get(), "fc.bias"}}; }
  std::vector<ParamGroup> groups() const { return {{.params = {weight, bias}}}; }
};

void set_grads(const Params& p, float t) {
  for (const nn::ParameterPtr& q : {p.weight, p.bias}) {
    q->take_grad_mode();
    float* g = q->grad().data_as<float>();
    for (int64_t i = 0; i < q->grad().numel(); ++i) g[i] = 0.3f * t - 0.7f * static_cast<float>(i) + 0.05f * t * t;
  }
}

void step(Optimizer& opt, const Params& p, float t) {
  opt.zero_grad();
  set_grads(p, t);
  opt.step(cpu_context().compute_stream());
}

template <class MakeOptimizer>
void expect_resume_is_exact(MakeOptimizer make, const std::vector<std::string>& kinds) {
  Params a, b;
  auto original = make(a);
  auto resumed = make(b);
  for (int t = 1; t <= 3; ++t) step(*original, a, static_cast<float>(t));
  original->set_lr(0.02);
  // Snapshot: named state (host copies), progress, and the weights.
  std::map<std::string, Tensor> saved;
  for (const nn::NamedBuffer& s : original->named_state(a.paths())) saved[s.name] = s.value;
  std::vector<std::string> want_names;
  for (const char* param : {"fc.weight", "fc.bias"})
    for (const std::string& kind : kinds) want_names.push_back(std::string(param) + "." + kind);
  std::vector<std::string> names;
  for (const auto& [name, t] : saved) names.push_back(name);
  std::sort(want_names.begin(), want_names.end());
  EXPECT_EQ(names, want_names);
  const Stream s = cpu_context().compute_stream();
  b.weight->load_value(s, a.weight->value());
  b.bias->load_value(s, a.bias->value());
  const auto loaded = resumed->load_state(s, b.paths(), [&](const std::string& name) {
    const auto it = saved.find(name);
    return it == saved.end() ? Tensor() : it->second;
  });
  EXPECT_EQ(loaded.size(), want_names.size());
  resumed->restore_progress(original->progress());
  EXPECT_EQ(resumed->step_count(), 3);
  EXPECT_EQ(resumed->lr(), 0.02);
  for (int t = 4; t <= 6; ++t) {
    step(*original, a, static_cast<float>(t));
    step(*resumed, b, static_cast<float>(t));
  }
  EXPECT_EQ(a.weight->value().to_vector<float>(), b.weight->value().to_vector<float>());
  EXPECT_EQ(a.bias->value().to_vector<float>(), b.bias->value().to_vector<float>());
}

TEST(OptimizerState, SgdNesterovResumesBitForBit) {
  expect_resume_is_exact(
      [](const Params& p) {
        return std::make_unique<SGD>(p.groups(),
                                     SGDOptions(0.05).with_momentum(0.9).with_nesterov(true).with_weight_decay(5e-4));
      },
      {"momentum_buffer"});
}

TEST(OptimizerState, AdamWResumesBitForBit) {
  expect_resume_is_exact(
      [](const Params& p) {
        return std::make_unique<Adam>(p.groups(), AdamOptions(0.01).decoupled().with_weight_decay(0.1));
      },
      {"exp_avg", "exp_avg_sq"});
}

TEST(OptimizerState, ShapeMismatchAndUnmadeState) {
  Params p;
  SGD opt(p.groups(), SGDOptions(0.1).with_momentum(0.9));
  EXPECT_TRUE(opt.named_state(p.paths()).empty()) << "no state before the first step";
  const Stream s = cpu_context().compute_stream();
  EXPECT_THROW(opt.load_state(s, p.paths(),
                              [](const std::string& name) {
                                return name == "fc.weight.momentum_buffer"
                                           ? Tensor::from_values(std::vector<float>{1, 2}, {2})
                                           : Tensor();
                              }),
               FormatError);
  SGD plain(p.groups(), SGDOptions(0.1));
  EXPECT_TRUE(plain.state_slots().empty()) << "plain SGD keeps no state";
}

}  // namespace
}  // namespace sprint::optim
