// step_plan_test.cpp: Optimizer::plan_steps, the schedule a captured CUDA graph replays, run on the CPU. An
// optimizer that selects each step's lr, momentum and Adam step count from its plan on the device (the cursor
// advanced by the step itself, as a graph replay does) must update the parameters bit for bit as one whose lr
// and momentum the host sets before every step; past the plan's end, and with a gradient scale other than the
// planned one, step() is an error.
#include <gtest/gtest.h>

#include <memory>

#include "sprint/core/error.h"
#include "sprint/ops/optimizer.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/schedule.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

constexpr int kSteps = 12;

struct Params {
  nn::ParameterPtr weight = std::make_shared<nn::Parameter>(
      "weight", Tensor::from_values(std::vector<float>{0.5f, -1.25f, 2.0f, 0.75f}, {4}));
  std::vector<ParamGroup> groups() const { return {{.params = {weight}}}; }
};

void set_grad(const Params& p, int t) {
  p.weight->take_grad_mode();
  float* g = p.weight->grad().data_as<float>();
  for (int64_t i = 0; i < 4; ++i) g[i] = 0.3f * t - 0.7f * static_cast<float>(i) + 0.05f * t * t;
}

std::unique_ptr<Schedule> schedule() {
  return one_cycle_schedule({.max_lr = 0.05, .total_steps = kSteps, .pct_start = 0.25});
}

template <class Make>
void expect_plan_equals_host_schedule(Make make) {
  const Stream s = cpu_context().compute_stream();
  Params host, planned;
  auto by_host = make(host);
  auto by_plan = make(planned);
  const auto sched = schedule();
  std::vector<PlannedStep> plan;
  for (int t = 0; t < kSteps; ++t) plan.push_back({.lr = sched->lr(t), .momentum = sched->momentum(t)});
  by_plan->plan_steps(s, plan);
  EXPECT_TRUE(by_plan->has_plan());
  for (int t = 0; t < kSteps; ++t) {
    by_host->set_lr(sched->lr(t));
    by_host->set_momentum(sched->momentum(t));
    for (auto [opt, p] : {std::pair{by_host.get(), &host}, std::pair{by_plan.get(), &planned}}) {
      opt->zero_grad();
      set_grad(*p, t + 1);
      opt->step(s);
    }
    EXPECT_EQ(host.weight->value().to_vector<float>(), planned.weight->value().to_vector<float>())
        << "step " << t + 1;
    EXPECT_EQ(by_plan->lr(), by_host->lr());
  }
  EXPECT_THROW(by_plan->step(s), InvalidArgument);  // past the plan
}

TEST(StepPlan, SgdNesterovFollowsTheOneCycleSchedule) {
  expect_plan_equals_host_schedule([](const Params& p) {
    return std::make_unique<SGD>(p.groups(), SGDOptions(0.05).with_momentum(0.9).with_nesterov(true));
  });
}

TEST(StepPlan, AdamWFollowsTheOneCycleScheduleAndItsStepCount) {
  expect_plan_equals_host_schedule([](const Params& p) {
    return std::make_unique<Adam>(p.groups(), AdamOptions(1e-3).decoupled().with_weight_decay(0.01));
  });
}

// A replayed step runs only on the device: the cursor the step advanced there and the host's count agree, so
// an eager step after replays selects the right row. Here the "replay" is the select op queued without
// step().
TEST(StepPlan, ReplayedStepsKeepTheHostCountInStep) {
  const Stream s = cpu_context().compute_stream();
  Params p;
  SGD sgd(p.groups(), SGDOptions(0.1));
  sgd.plan_steps(s, {{.lr = 0.1}, {.lr = 0.2}, {.lr = 0.3}});
  sgd.zero_grad();
  set_grad(p, 1);
  sgd.step(s);
  EXPECT_EQ(sgd.lr(), 0.1);
  sgd.count_replayed_step();
  EXPECT_EQ(sgd.step_count(), 2);
  EXPECT_EQ(sgd.lr(), 0.2);
  sgd.zero_grad();
  set_grad(p, 3);
  sgd.step(s);
  EXPECT_EQ(sgd.lr(), 0.3);
  EXPECT_THROW(sgd.step(s), InvalidArgument);  // past the plan: nothing changes
  EXPECT_EQ(sgd.step_count(), 3);
}

TEST(StepPlan, GradientScaleMustMatchThePlan) {
  const Stream s = cpu_context().compute_stream();
  Params p;
  SGD sgd(p.groups(), SGDOptions(0.1));
  sgd.plan_steps(s, {{.lr = 0.1, .grad_scale = 0.5}});
  sgd.zero_grad();
  set_grad(p, 1);
  EXPECT_THROW(sgd.step(s, 1.0), InvalidArgument);
  EXPECT_THROW(sgd.plan_steps(s, {}), InvalidArgument);
}

TEST(StepPlan, SelectOpCopiesTheRowAndAdvancesTheCursor) {
  const Stream s = cpu_context().compute_stream();
  Tensor table = Tensor::empty({3, kStepValueCount}, DType::kF64);
  for (int64_t i = 0; i < table.numel(); ++i) table.data_as<double>()[i] = static_cast<double>(i);
  const Tensor cursor = Tensor::from_values(std::vector<int64_t>{1}, {1});
  const Tensor out = Tensor::empty({kStepValueCount}, DType::kF64);
  ops::step_values_select(s, {.table = table, .cursor = cursor, .out = out});
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{4, 5, 6, 7}));
  EXPECT_EQ(cursor.to_vector<int64_t>(), (std::vector<int64_t>{2}));
  ops::step_values_select(s, {.table = table, .cursor = cursor, .out = out});
  ops::step_values_select(s, {.table = table, .cursor = cursor, .out = out});  // past the end: the last row
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{8, 9, 10, 11}));
  const Tensor bad = Tensor::empty({3}, DType::kF64);
  EXPECT_THROW(ops::step_values_select(s, {.table = bad, .cursor = cursor, .out = out}), InvalidArgument);
}

}  // namespace
}  // namespace sprint::optim
