// sgd_test.cpp: SGD semantics against hand-computed torch.optim.SGD steps (momentum, dampening, Nesterov,
// weight decay), parameter hints, and no allocation after the first step.
#include <gtest/gtest.h>

#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

nn::ParameterPtr make_param(float value) {
  return std::make_shared<nn::Parameter>("p", Tensor::from_values(std::vector<float>{value}, {1}));
}

void set_grad(nn::Parameter& p, float g) {
  p.take_grad_mode();
  p.grad().data_as<float>()[0] = g;
}

float value(const nn::Parameter& p) { return p.value().to_vector<float>()[0]; }

TEST(SGD, PlainStep) {
  auto p = make_param(1.0f);
  SGD opt({{.params = {p}}}, SGDOptions(0.1));
  set_grad(*p, 2.0f);
  opt.step(cpu_context().compute_stream());
  EXPECT_FLOAT_EQ(value(*p), 0.8f);
}

TEST(SGD, MomentumMatchesTorch) {
  // torch: p=1, lr=0.1, momentum=0.9, grads 1 then 1: buf1 = 1, p = 0.9; buf2 = 0.9 + 1 = 1.9, p = 0.71.
  auto p = make_param(1.0f);
  SGD opt({{.params = {p}}}, SGDOptions(0.1).with_momentum(0.9));
  const Stream s = cpu_context().compute_stream();
  set_grad(*p, 1.0f);
  opt.step(s);
  EXPECT_FLOAT_EQ(value(*p), 0.9f);
  opt.zero_grad();
  set_grad(*p, 1.0f);
  opt.step(s);
  EXPECT_FLOAT_EQ(value(*p), 0.71f);
}

TEST(SGD, NesterovAndWeightDecayMatchTorch) {
  // torch: p=1, lr=0.1, m=0.9, wd=0.1, nesterov, grad 1:
  //   d = 1 + 0.1·1 = 1.1; buf = 1.1; step = d + 0.9·buf = 2.09; p = 1 − 0.209 = 0.791
  //   then grad 0.5: d = 0.5 + 0.1·0.791 = 0.5791; buf = 0.9·1.1 + 0.5791 = 1.5691; step = 0.5791 + 1.41219 = 1.99129
  //   p = 0.791 − 0.199129 = 0.591871
  auto p = make_param(1.0f);
  SGD opt({{.params = {p}}}, SGDOptions(0.1).with_momentum(0.9).with_weight_decay(0.1).with_nesterov(true));
  const Stream s = cpu_context().compute_stream();
  set_grad(*p, 1.0f);
  opt.step(s);
  EXPECT_NEAR(value(*p), 0.791f, 1e-6);
  opt.zero_grad();
  set_grad(*p, 0.5f);
  opt.step(s);
  EXPECT_NEAR(value(*p), 0.591871f, 1e-6);
}

TEST(SGD, DampeningAppliesAfterFirstStep) {
  // torch: dampening 0.5: buf1 = g = 1 (no dampening on the first step), p = 0.9; buf2 = 0.9 + 0.5 = 1.4, p = 0.76.
  auto p = make_param(1.0f);
  SGD opt({{.params = {p}}}, SGDOptions(0.1).with_momentum(0.9).with_dampening(0.5));
  const Stream s = cpu_context().compute_stream();
  set_grad(*p, 1.0f);
  opt.step(s);
  opt.zero_grad();
  set_grad(*p, 1.0f);
  opt.step(s);
  EXPECT_NEAR(value(*p), 0.76f, 1e-6);
}

TEST(SGD, ParameterHintsAndSkippedParameters) {
  auto fast = make_param(1.0f), no_decay = make_param(1.0f), frozen = make_param(1.0f), no_grad = make_param(1.0f);
  fast->lr_scale = 10.0;
  no_decay->weight_decay = false;
  frozen->set_trainable(false);
  SGD opt({{.params = {fast, no_decay, frozen, no_grad}}}, SGDOptions(0.01).with_weight_decay(1.0));
  set_grad(*fast, 1.0f);
  set_grad(*no_decay, 1.0f);
  set_grad(*frozen, 1.0f);
  opt.step(cpu_context().compute_stream());
  EXPECT_NEAR(value(*fast), 1.0f - 0.1f * 2.0f, 1e-6);   // lr 0.1, grad 1 + wd·p = 2
  EXPECT_NEAR(value(*no_decay), 1.0f - 0.01f, 1e-6);
  EXPECT_EQ(value(*frozen), 1.0f);
  EXPECT_EQ(value(*no_grad), 1.0f);
}

TEST(SGD, InvalidOptionsAreRejected) {
  auto p = make_param(1.0f);
  EXPECT_THROW(SGD({{.params = {p}}}, SGDOptions(-1.0)), InvalidArgument);
  EXPECT_THROW(SGD({{.params = {p}}}, SGDOptions(0.1).with_nesterov(true)), InvalidArgument);
  EXPECT_THROW(SGD({{.params = {p, p}}}, SGDOptions(0.1)), InvalidArgument);
}

TEST(SGD, NoAllocationAfterFirstStep) {
  std::vector<nn::ParameterPtr> params;
  for (int i = 0; i < 5; ++i) params.push_back(make_param(1.0f));
  SGD opt({{.params = params}}, SGDOptions(0.1).with_momentum(0.9));
  const Stream s = cpu_context().compute_stream();
  for (auto& p : params) set_grad(*p, 1.0f);
  opt.step(s);
  const int64_t before = cpu_allocator().stats().n_allocations;
  for (int k = 0; k < 10; ++k) {
    opt.zero_grad();
    for (auto& p : params) set_grad(*p, 1.0f);
    opt.step(s);
  }
  EXPECT_EQ(cpu_allocator().stats().n_allocations, before);
}

}  // namespace
}  // namespace sprint::optim
