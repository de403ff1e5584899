// update_mask_test.cpp: sparse training on fixed masks (Optimizer::set_update_masks). Under kFreeze the entries
// outside the mask keep their value and optimizer state bit for bit through SGD with Nesterov momentum and weight
// decay and through AdamW, while the kept entries follow an unmasked optimizer exactly; under kGradientOnly (the
// original FISH code's behaviour) the others still decay and carry momentum, exactly as an unmasked optimizer fed
// the masked gradient. Masks are re-stored when the weights change layout; bad masks are errors.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "sprint/ops/elementwise.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

constexpr int64_t kN = 64;

std::vector<float> ramp(float scale, float offset) {
  std::vector<float> v;
  for (int64_t i = 0; i < kN; ++i) v.push_back(scale * static_cast<float>((i * 37) % 23) - offset);
  return v;
}
// Entries 0, 3, 6, ... are kept.
std::vector<float> keep_every_third() {
  std::vector<float> m;
  for (int64_t i = 0; i < kN; ++i) m.push_back(i % 3 == 0 ? 1.0F : 0.0F);
  return m;
}

nn::ParameterPtr make_param() {
  return std::make_shared<nn::Parameter>("w", Tensor::from_values(ramp(0.1F, 1.0F), {kN}));
}
void set_grad(nn::Parameter& p, const std::vector<float>& g) {
  (void)p.take_grad_mode();
  std::copy(g.begin(), g.end(), p.grad().data_as<float>());
}
std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

// Three steps of `opt` on p with gradients that change per step; `grad_mask` multiplies the gradients first.
void train(Optimizer& opt, nn::Parameter& p, const std::vector<float>* grad_mask = nullptr) {
  for (int step = 0; step < 3; ++step) {
    std::vector<float> g = ramp(0.05F * static_cast<float>(step + 1), 0.4F);
    if (grad_mask != nullptr)
      for (int64_t i = 0; i < kN; ++i) g[i] *= (*grad_mask)[i];
    opt.zero_grad();
    set_grad(p, g);
    opt.step(cpu());
  }
}

Tensor state_of(Optimizer& opt, const char* kind) {
  for (const StateSlot& s : opt.state_slots())
    if (s.kind == kind) return *s.tensor;
  return {};
}

template <class MakeOptimizer>
void expect_frozen_outside_the_mask(MakeOptimizer make, const std::vector<const char*>& kinds) {
  const std::vector<float> mask = keep_every_third();
  auto masked = make_param(), dense = make_param();
  const std::vector<float> before = values(masked->value());
  std::unique_ptr<Optimizer> masked_opt = make(masked), dense_opt = make(dense);
  masked_opt->set_update_masks(cpu(), {{masked.get(), Tensor::from_values(mask, {kN})}}, UpdateMaskMode::kFreeze);
  EXPECT_TRUE(masked_opt->has_update_masks());
  train(*masked_opt, *masked);
  train(*dense_opt, *dense);
  const std::vector<float> got = values(masked->value()), want = values(dense->value());
  for (int64_t i = 0; i < kN; ++i) {
    if (mask[i] == 0.0F) {
      EXPECT_EQ(got[i], before[i]) << i;  // bit for bit
    } else {
      EXPECT_EQ(got[i], want[i]) << i;
      EXPECT_NE(got[i], before[i]) << i;
    }
  }
  for (const char* kind : kinds) {
    const std::vector<float> state = values(state_of(*masked_opt, kind)), dense_state = values(state_of(*dense_opt, kind));
    for (int64_t i = 0; i < kN; ++i) EXPECT_EQ(state[i], mask[i] == 0.0F ? 0.0F : dense_state[i]) << kind << " " << i;
  }
}

TEST(UpdateMasks, FreezeKeepsSgdNesterovWithWeightDecayOffTheFrozenEntries) {
  expect_frozen_outside_the_mask(
      [](const nn::ParameterPtr& p) -> std::unique_ptr<Optimizer> {
        return std::make_unique<SGD>(std::vector<ParamGroup>{{.params = {p}}},
                                     SGDOptions(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(5e-2));
      },
      {"momentum_buffer"});
}

TEST(UpdateMasks, FreezeKeepsAdamWOffTheFrozenEntries) {
  expect_frozen_outside_the_mask(
      [](const nn::ParameterPtr& p) -> std::unique_ptr<Optimizer> {
        return std::make_unique<Adam>(std::vector<ParamGroup>{{.params = {p}}},
                                      AdamOptions(1e-2).with_weight_decay(0.1).decoupled());
      },
      {"exp_avg", "exp_avg_sq"});
}

TEST(UpdateMasks, GradientOnlyMasksTheGradientAndStillDecaysTheRest) {
  const std::vector<float> mask = keep_every_third();
  auto masked = make_param(), reference = make_param();
  const std::vector<float> before = values(masked->value());
  const SGDOptions options = SGDOptions(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(5e-2);
  SGD masked_opt({{.params = {masked}}}, options), reference_opt({{.params = {reference}}}, options);
  masked_opt.set_update_masks(cpu(), {{masked.get(), Tensor::from_values(mask, {kN})}},
                              UpdateMaskMode::kGradientOnly);
  train(masked_opt, *masked);
  train(reference_opt, *reference, &mask);
  EXPECT_EQ(values(masked->value()), values(reference->value()));
  const std::vector<float> got = values(masked->value());
  EXPECT_NE(got[1], before[1]);  // outside the mask: decayed all the same
}

TEST(UpdateMasks, MasksFollowTheWeightsLayoutAndCanBeCleared) {
  // A conv-shaped weight moved to a blocked weight layout after the masks were set: the mask moves with it.
  auto p = std::make_shared<nn::Parameter>("w", ops::full(cpu(), {16, 8, 3, 3}, DType::kF32, 1.0));
  SGD opt({{.params = {p}}}, SGDOptions(0.5).with_weight_decay(0.1));
  std::vector<float> mask(16 * 8 * 9, 0.0F);
  mask[5] = 1.0F;  // entry (0, 0, 1, 2)
  opt.set_update_masks(cpu(), {{p.get(), Tensor::from_values(mask, {16, 8, 3, 3})}}, UpdateMaskMode::kFreeze);
  p->convert_format(cpu(), MemoryFormat::kWeightsBlocked8);
  (void)p->take_grad_mode();
  ops::copy(cpu(), ops::full(cpu(), {16, 8, 3, 3}, DType::kF32, 1.0), p->grad());
  opt.step(cpu());
  const std::vector<float> got = ops::cast_to(cpu(), p->value(), DType::kF32).to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i == 5 ? 1.0F - 0.5F * (1.0F + 0.1F) : 1.0F) << i;
  opt.set_update_masks(cpu(), {}, UpdateMaskMode::kFreeze);
  EXPECT_FALSE(opt.has_update_masks());
}

TEST(UpdateMasks, BadMasksAreErrors) {
  auto p = make_param(), stranger = make_param();
  SGD opt({{.params = {p}}}, SGDOptions(0.1));
  EXPECT_THROW(opt.set_update_masks(cpu(), {{p.get(), Tensor::from_values(std::vector<float>{1.0F}, {1})}},
                                    UpdateMaskMode::kFreeze),
               InvalidArgument);
  EXPECT_THROW(opt.set_update_masks(cpu(), {{stranger.get(), Tensor::from_values(keep_every_third(), {kN})}},
                                    UpdateMaskMode::kFreeze),
               InvalidArgument);
}

}  // namespace
}  // namespace sprint::optim
