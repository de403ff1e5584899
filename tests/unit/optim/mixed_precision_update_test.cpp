// mixed_precision_update_test.cpp: optimizer updates under mixed precision on the CPU. A parameter computing
// in bf16 or f16 (Parameter::use_compute_dtype) keeps an f32 master and an f32 gradient: SGD and AdamW update the
// master exactly as they update an f32 parameter from the same gradient, keep f32 state, and write the master
// rounded to the compute dtype into value() in the same pass. The update op also takes a half gradient beside
// an f32 master (the gradient's values widened).
// Checkpoint-facing views (master_value, load_value) read and write the master.
#include <gtest/gtest.h>

#include <memory>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/optimizer.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::optim {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

nn::ParameterPtr make_param() {
  return std::make_shared<nn::Parameter>(
      "weight", Tensor::from_values(std::vector<float>{0.5f, -1.25f, 2.0f, 0.7f, -0.3f, 1e-3f}, {6}));
}

// The step-t gradient, the same f32 values in both (the mixed-precision parameter's gradient is f32).
void set_grads(nn::Parameter& half, nn::Parameter& full, int t) {
  half.take_grad_mode();
  full.take_grad_mode();
  const Tensor g32 = Tensor::empty({6}, DType::kF32);
  for (int64_t i = 0; i < 6; ++i)
    g32.data_as<float>()[i] = 0.37f * t - 0.71f * static_cast<float>(i) + 0.05f * t * t + 1e-4f;
  ops::copy(cpu(), g32, half.grad());
  ops::copy(cpu(), g32, full.grad());
}

std::vector<float> rounded(const Tensor& master, DType dtype) {
  return ops::cast_to(cpu(), ops::cast_to(cpu(), master, dtype), DType::kF32).to_vector<float>();
}

template <class Make>
void expect_master_updates_like_f32(DType compute, Make make) {
  SCOPED_TRACE(std::string(dtype_name(compute)));
  nn::ParameterPtr half = make_param(), full = make_param();
  half->use_compute_dtype(cpu(), compute);
  ASSERT_TRUE(half->has_master());
  EXPECT_EQ(half->value().dtype(), compute);
  EXPECT_EQ(half->grad().dtype(), DType::kF32);
  EXPECT_EQ(half->master_value().dtype(), DType::kF32);
  auto opt_half = make(half);
  auto opt_full = make(full);
  for (int t = 1; t <= 5; ++t) {
    opt_half->zero_grad();
    opt_full->zero_grad();
    set_grads(*half, *full, t);
    opt_half->step(cpu());
    opt_full->step(cpu());
    EXPECT_EQ(half->master_value().to_vector<float>(), full->value().to_vector<float>()) << "step " << t;
    EXPECT_EQ(ops::cast_to(cpu(), half->value(), DType::kF32).to_vector<float>(),
              rounded(half->master_value(), compute))
        << "step " << t;
  }
  for (const nn::NamedBuffer& s : opt_half->named_state({{half.get(), "w"}}))
    EXPECT_EQ(s.value.dtype(), DType::kF32);
}

TEST(MixedPrecisionUpdate, SgdNesterovUpdatesTheMaster) {
  for (DType d : {DType::kBF16, DType::kF16})
    expect_master_updates_like_f32(d, [](const nn::ParameterPtr& p) {
      return std::make_unique<SGD>(
          std::vector<ParamGroup>{{.params = {p}}},
          SGDOptions(0.1).with_momentum(0.9).with_nesterov(true).with_weight_decay(1e-2));
    });
}

TEST(MixedPrecisionUpdate, AdamWUpdatesTheMaster) {
  for (DType d : {DType::kBF16, DType::kF16})
    expect_master_updates_like_f32(d, [](const nn::ParameterPtr& p) {
      return std::make_unique<Adam>(std::vector<ParamGroup>{{.params = {p}}},
                                    AdamOptions(1e-2).decoupled().with_weight_decay(0.05));
    });
}

TEST(MixedPrecisionUpdate, LoadingWritesTheMasterAndRefreshesTheCopy) {
  nn::ParameterPtr p = make_param();
  p->use_compute_dtype(cpu(), DType::kBF16);
  const Tensor values = Tensor::from_values(std::vector<double>{1.0 / 3, 2, 3, 4, 5, 6}, {6});
  p->load_value(cpu(), values);
  EXPECT_EQ(p->master_value().to_vector<float>()[0], 1.0f / 3);
  EXPECT_EQ(ops::cast_to(cpu(), p->value(), DType::kF32).to_vector<float>()[0],
            bf16_to_float(bf16_from_float(1.0f / 3)));
  EXPECT_THROW(p->use_compute_dtype(cpu(), DType::kF16), InvalidArgument);  // already mixed
  EXPECT_NO_THROW(p->use_compute_dtype(cpu(), DType::kBF16));               // the same dtype: nothing to do
  nn::ParameterPtr f64 =
      std::make_shared<nn::Parameter>("w", Tensor::from_values(std::vector<double>{1.0}, {1}));
  EXPECT_THROW(f64->use_compute_dtype(cpu(), DType::kBF16), InvalidArgument);
  EXPECT_THROW(make_param()->use_compute_dtype(cpu(), DType::kI32), InvalidArgument);
}

TEST(MixedPrecisionUpdate, UpdateOpChecksTheCopies) {
  const Tensor p = Tensor::empty({4}, DType::kF32), g = Tensor::empty({4}, DType::kBF16);
  const Tensor copy_f16 = Tensor::empty({4}, DType::kF16), copy_short = Tensor::empty({3}, DType::kBF16);
  ops::fill(cpu(), p, 1.0);
  ops::fill(cpu(), g, 1.0);
  const std::vector<Tensor> params = {p}, grads = {g};
  for (const Tensor& bad : {copy_f16, copy_short}) {
    const std::vector<Tensor> copies = {bad};
    EXPECT_THROW(ops::sgd_update(cpu(), {.params = params,
                                         .grads = grads,
                                         .momentum_buffers = {},
                                         .compute_copies = copies,
                                         .hyper = {.lr = 0.1}}),
                 InvalidArgument);
  }
  // An f32 gradient takes a copy of either half dtype; a half gradient only one of its own dtype.
  const Tensor g32 = Tensor::empty({4}, DType::kF32);
  ops::fill(cpu(), g32, 1.0);
  const std::vector<Tensor> f32_grads = {g32}, f16_copies = {copy_f16};
  EXPECT_NO_THROW(ops::sgd_update(cpu(), {.params = params,
                                          .grads = f32_grads,
                                          .momentum_buffers = {},
                                          .compute_copies = f16_copies,
                                          .hyper = {.lr = 0.5}}));
  EXPECT_EQ(p.to_vector<float>(), std::vector<float>(4, 0.5f));
  EXPECT_EQ(ops::cast_to(cpu(), copy_f16, DType::kF32).to_vector<float>(), std::vector<float>(4, 0.5f));
  // A copy beside an f32 parameter with an f32 gradient must be half.
  const Tensor copy_f32 = Tensor::empty({4}, DType::kF32);
  const std::vector<Tensor> f32_copies = {copy_f32};
  EXPECT_THROW(ops::sgd_update(cpu(), {.params = params,
                                       .grads = f32_grads,
                                       .momentum_buffers = {},
                                       .compute_copies = f32_copies,
                                       .hyper = {.lr = 0.5}}),
               InvalidArgument);
  // A half gradient needs an f32 parameter.
  const Tensor p16 = Tensor::empty({4}, DType::kF16);
  const std::vector<Tensor> half_params = {p16};
  EXPECT_THROW(
      ops::sgd_update(cpu(),
                      {.params = half_params, .grads = grads, .momentum_buffers = {}, .hyper = {.lr = 0.1}}),
      InvalidArgument);
}

}  // namespace
}  // namespace sprint::optim
