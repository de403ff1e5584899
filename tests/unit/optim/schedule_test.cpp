// schedule_test.cpp: the schedules against torch.optim.lr_scheduler (PyTorch 1.13, Debian's python3-torch): the
// lr (and momentum) each of 10 steps used, as PyTorch printed them from optimizer.param_groups before each step:
//   OneCycleLR(SGD(lr=0.1, momentum=0.9), max_lr=0.1, total_steps=10)                       (cos, pct_start 0.3)
//   OneCycleLR(..., total_steps=10, pct_start=0.25, div_factor=10, final_div_factor=100, anneal_strategy='linear')
//   CosineAnnealingLR(SGD(lr=0.1), T_max=8, eta_min=0.001);  StepLR(SGD(lr=0.1), step_size=3, gamma=0.5)
#include <gtest/gtest.h>

#include <vector>

#include "sprint/core/error.h"
#include "sprint/optim/schedule.h"

namespace sprint::optim {
namespace {

void expect_lrs(const Schedule& s, const std::vector<double>& lrs) {
  for (size_t t = 0; t < lrs.size(); ++t) EXPECT_NEAR(s.lr(static_cast<int64_t>(t)), lrs[t], 1e-11) << "step " << t;
}

TEST(Schedule, OneCycleMatchesTorch) {
  const auto s = one_cycle_schedule({.max_lr = 0.1, .total_steps = 10});
  expect_lrs(*s, {0.004, 0.052, 0.1, 0.095048463201, 0.081174565395, 0.061126202194, 0.038874197806,
                  0.018825834605, 0.004951936799, 4e-07});
  const std::vector<double> momentum{0.95, 0.9, 0.85, 0.854951556605, 0.868825509907, 0.888873953302,
                                     0.911126046698, 0.931174490093, 0.945048443395, 0.95};
  for (size_t t = 0; t < momentum.size(); ++t)
    EXPECT_NEAR(s->momentum(static_cast<int64_t>(t)).value(), momentum[t], 1e-11) << "step " << t;
  EXPECT_TRUE(s->varies());
}

TEST(Schedule, OneCycleLinearMatchesTorch) {
  const auto s = one_cycle_schedule(
      {.max_lr = 0.1, .total_steps = 10, .pct_start = 0.25, .div_factor = 10, .final_div_factor = 100, .cosine = false});
  expect_lrs(*s, {0.01, 0.07, 0.09334, 0.08002, 0.0667, 0.05338, 0.04006, 0.02674, 0.01342, 0.0001});
  const std::vector<double> momentum{0.95, 0.883333333333, 0.856666666667, 0.87, 0.883333333333, 0.896666666667,
                                     0.91, 0.923333333333, 0.936666666667, 0.95};
  for (size_t t = 0; t < momentum.size(); ++t)
    EXPECT_NEAR(s->momentum(static_cast<int64_t>(t)).value(), momentum[t], 1e-11) << "step " << t;
  EXPECT_FALSE(one_cycle_schedule({.max_lr = 0.1, .total_steps = 10, .cycle_momentum = false})->momentum(3));
}

TEST(Schedule, CosineStepAndConstantMatchTorch) {
  expect_lrs(*cosine_schedule(0.1, 8, 0.001), {0.1, 0.096232036859, 0.085501785669, 0.069442829902, 0.0505,
                                               0.031557170098, 0.015498214331, 0.004767963141, 0.001, 0.004767963141});
  expect_lrs(*step_schedule(0.1, 3, 0.5), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125});
  const auto c = constant_schedule(0.02);
  expect_lrs(*c, {0.02, 0.02, 0.02});
  EXPECT_FALSE(c->varies());
  EXPECT_FALSE(c->momentum(0));
}

// cifar10-fast's PiecewiseLinear([0, 5, 24], [0, 0.4, 0]) over epochs of 10 steps; expected values from
// numpy.interp(t / 10, [0, 5, 24], [0, 0.4, 0]) (Debian's python3-numpy).
TEST(Schedule, PiecewiseLinearMatchesNumpyInterp) {
  const auto s = piecewise_linear_schedule({0.0, 50.0, 240.0}, {0.0, 0.4, 0.0});
  const std::vector<std::pair<int64_t, double>> expected{{0, 0.0},   {7, 0.056},   {25, 0.2},
                                                         {50, 0.4},  {51, 0.397894736842}, {120, 0.252631578947},
                                                         {239, 0.002105263158}, {240, 0.0}, {300, 0.0}};
  for (const auto& [t, lr] : expected) EXPECT_NEAR(s->lr(t), lr, 1e-11) << "step " << t;
  EXPECT_TRUE(s->varies());
  EXPECT_FALSE(piecewise_linear_schedule({0.0, 10.0}, {0.1, 0.1})->varies());
  EXPECT_THROW(piecewise_linear_schedule({0.0, 0.0}, {0.1, 0.2}), InvalidArgument);
  EXPECT_THROW(piecewise_linear_schedule({0.0}, {0.1, 0.2}), InvalidArgument);
  EXPECT_THROW(piecewise_linear_schedule({}, {}), InvalidArgument);
}

TEST(Schedule, BadSettingsAreInvalidArguments) {
  EXPECT_THROW(one_cycle_schedule({.max_lr = 0.1, .total_steps = 1}), InvalidArgument);
  EXPECT_THROW(one_cycle_schedule({.max_lr = 0.1, .total_steps = 10, .pct_start = 1.0}), InvalidArgument);
  EXPECT_THROW(step_schedule(0.1, 0, 0.5), InvalidArgument);
  EXPECT_THROW(cosine_schedule(0.1, 0, 0.0), InvalidArgument);
  EXPECT_THROW(constant_schedule(-1.0), InvalidArgument);
}

}  // namespace
}  // namespace sprint::optim
