// adam_test.cpp: Adam and AdamW against torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13, Debian's
// python3-torch, float64): p = [1, -2], lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1, gradients
// [0.5, -1], [0.1, 0.3], [-0.2, 0.4]; the expected values below are what PyTorch printed after each step.
// Also: state names, bad options, a changed lr taking effect at the next step, frozen parameters untouched.
#include <gtest/gtest.h>

#include "sprint/optim/adam.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

nn::ParameterPtr make_param(std::vector<double> values) {
  const Shape shape{static_cast<int64_t>(values.size())};
  return std::make_shared<nn::Parameter>("w", Tensor::from_values(values, shape));
}

void set_grad(nn::Parameter& p, const std::vector<double>& g) {
  p.take_grad_mode();
  for (size_t i = 0; i < g.size(); ++i) p.grad().data_as<double>()[i] = g[i];
}

void expect_torch_steps(bool decoupled, const std::vector<std::vector<double>>& expected) {
  auto p = make_param({1.0, -2.0});
  Adam opt({{.params = {p}}}, AdamOptions(0.1).with_betas(0.9, 0.999).with_eps(1e-8).with_weight_decay(0.1)
                                  .decoupled(decoupled));
  const Stream s = cpu_context().compute_stream();
  const std::vector<std::vector<double>> grads{{0.5, -1.0}, {0.1, 0.3}, {-0.2, 0.4}};
  for (size_t step = 0; step < grads.size(); ++step) {
    opt.zero_grad();
    set_grad(*p, grads[step]);
    opt.step(s);
    const std::vector<double> got = p->value().to_vector<double>();
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[step][i], 1e-11) << "step " << step + 1;
  }
}

TEST(Adam, MatchesTorchAdam) {
  expect_torch_steps(false, {{0.900000001667, -1.900000000833},
                             {0.81364834543, -1.840070355538},
                             {0.759899757222, -1.805754221251}});
}

TEST(Adam, MatchesTorchAdamW) {
  expect_torch_steps(true, {{0.890000002, -1.880000001},
                            {0.800795906365, -1.818415142419},
                            {0.758352572752, -1.792225087042}});
}

TEST(Adam, StateNamesOptionsAndFrozenParameters) {
  auto w = make_param({1.0, 2.0}), frozen = make_param({3.0});
  frozen->set_trainable(false);
  Adam opt({{.params = {w, frozen}}}, AdamOptions(0.01).decoupled());
  EXPECT_EQ(opt.describe(), "AdamW(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)");
  const ParameterPaths paths = {{w.get(), "fc.w"}, {frozen.get(), "fc.frozen"}};
  EXPECT_TRUE(opt.named_state(paths).empty());
  set_grad(*w, {1.0, 1.0});
  set_grad(*frozen, {1.0});
  const Stream s = cpu_context().compute_stream();
  opt.step(s);
  const auto state = opt.named_state(paths);
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].name, "fc.w.exp_avg");
  EXPECT_EQ(state[1].name, "fc.w.exp_avg_sq");
  EXPECT_EQ(frozen->value().to_vector<double>(), std::vector<double>{3.0});
  // First Adam step moves each weight by lr (bias-corrected m / sqrt(v) = sign(g)).
  EXPECT_NEAR(w->value().to_vector<double>()[0], 1.0 - 0.01, 1e-9);
  // A new lr reaches the next step through the step values.
  opt.set_lr(0.0);
  opt.zero_grad();
  set_grad(*w, {1.0, 1.0});
  const std::vector<double> before = w->value().to_vector<double>();
  opt.step(s);
  EXPECT_EQ(w->value().to_vector<double>(), before);
  EXPECT_THROW(Adam({{.params = {w}}}, AdamOptions(0.1).with_betas(1.0, 0.999)), InvalidArgument);
  EXPECT_THROW(Adam({{.params = {w}}}, AdamOptions(0.1).with_eps(0.0)), InvalidArgument);
}

}  // namespace
}  // namespace sprint::optim
