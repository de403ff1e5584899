// amp_ops_test.cpp: the mixed-precision and schedule ops on CUDA against the CPU: loss scaling (apply,
// unscale with the inf flag, GradScaler's update) in f32/f16/bf16, the mixed-precision optimizer update (f32
// master and state, an f32 or half gradient, half compute copy written in the same pass), and the planned step values a
// captured graph replays (step_values_select inside a CUDA graph advances its cursor on every replay).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gpu/gpu_test_util.h"
#include "sprint/ops/loss_scale.h"
#include "sprint/ops/optimizer.h"
#include "sprint/runtime/cuda/cuda_graph.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

Tensor scale_state(float scale, float tracker = 0.0f) {
  return Tensor::from_values(std::vector<float>{scale, tracker, 0.0f}, {kLossScaleStateCount});
}

class AmpOpsTest : public CudaTest {};

TEST_F(AmpOpsTest, LossScalingMatchesTheCpu) {
  Generator rng(3);
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16}) {
    SCOPED_TRACE(std::string(dtype_name(d)));
    const Tensor host = ops::cast_to(cpu(), random_tensor({1000}, DType::kF32, rng, -100, 100), d);
    const Tensor dev = to_device(host);
    const Tensor cpu_state = scale_state(1024.0f), dev_state = to_device(cpu_state);
    const std::vector<Tensor> cpu_grads = {host}, dev_grads = {dev};
    ops::loss_scale_unscale(cpu(), {.grads = cpu_grads, .state = cpu_state});
    ops::loss_scale_unscale(stream(), {.grads = dev_grads, .state = dev_state});
    EXPECT_EQ(values<float>(dev), ops::cast_to(cpu(), host, DType::kF32).to_vector<float>());
    EXPECT_EQ(values<float>(dev_state)[2], 0.0f);
    // An inf among a device gradient's elements raises the flag; the update halves the scale and clears it.
    Tensor poisoned = ops::cast_to(cpu(), random_tensor({5000}, DType::kF32, rng), DType::kF32);
    poisoned.data_as<float>()[4321] = std::numeric_limits<float>::infinity();
    const std::vector<Tensor> bad = {to_device(ops::cast_to(cpu(), poisoned, d))};
    ops::loss_scale_unscale(stream(), {.grads = bad, .state = dev_state});
    EXPECT_EQ(values<float>(dev_state)[2], 1.0f);
    ops::loss_scale_update(stream(), {.state = dev_state});
    EXPECT_EQ(values<float>(dev_state), (std::vector<float>{512.0f, 0.0f, 0.0f}));
    // Growth after the interval, as on the CPU.
    const Tensor c = scale_state(4.0f, 2.0f), g = to_device(c);
    ops::loss_scale_update(cpu(), {.state = c, .growth_interval = 3});
    ops::loss_scale_update(stream(), {.state = g, .growth_interval = 3});
    EXPECT_EQ(values<float>(g), c.to_vector<float>());
    // Apply scales the loss gradient by the device value.
    const Tensor x =
        to_device(ops::cast_to(cpu(), Tensor::from_values(std::vector<float>{0.5f, -2.0f}, {2}), d));
    ops::loss_scale_apply(stream(), {.x = x, .state = g});
    EXPECT_EQ(values<float>(x), (std::vector<float>{4.0f, -16.0f}));
  }
}

TEST_F(AmpOpsTest, MixedPrecisionUpdatesMatchTheCpu) {
  Generator rng(9);
  for (DType d : {DType::kF16, DType::kBF16})
  for (DType grad_dtype : {DType::kF32, d}) {
    SCOPED_TRACE(std::string(dtype_name(d)) + " compute, " + std::string(dtype_name(grad_dtype)) + " gradient");
    const int64_t n = 10000;
    const Tensor p = random_tensor({n}, DType::kF32, rng),
                 g = ops::cast_to(cpu(), random_tensor({n}, DType::kF32, rng), grad_dtype);
    const Tensor m = random_tensor({n}, DType::kF32, rng, -0.1, 0.1),
                 v = random_tensor({n}, DType::kF32, rng, 0, 0.1);
    for (bool adam : {false, true}) {
      const Tensor cp = ops::cast_to(cpu(), p, DType::kF32), cm = ops::cast_to(cpu(), m, DType::kF32),
                   cv = ops::cast_to(cpu(), v, DType::kF32), ccopy = Tensor::empty({n}, d);
      const Tensor dp = to_device(p), dm = to_device(m), dv = to_device(v), dg = to_device(g),
                   dcopy = to_device(Tensor::empty({n}, d));
      const std::vector<Tensor> hp = {cp}, hg = {g}, hm = {cm}, hv = {cv}, hc = {ccopy};
      const std::vector<Tensor> gp = {dp}, gg = {dg}, gm = {dm}, gv = {dv}, gc = {dcopy};
      if (adam) {
        const AdamHyper h{.lr = 1e-2, .weight_decay = 0.01, .decoupled_weight_decay = true};
        ops::adam_update(cpu(), {.params = hp,
                                 .grads = hg,
                                 .exp_avg = hm,
                                 .exp_avg_sq = hv,
                                 .compute_copies = hc,
                                 .hyper = h,
                                 .step = 3});
        ops::adam_update(stream(), {.params = gp,
                                    .grads = gg,
                                    .exp_avg = gm,
                                    .exp_avg_sq = gv,
                                    .compute_copies = gc,
                                    .hyper = h,
                                    .step = 3});
      } else {
        const SgdHyper h{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true};
        ops::sgd_update(
            cpu(), {.params = hp, .grads = hg, .momentum_buffers = hm, .compute_copies = hc, .hyper = h});
        ops::sgd_update(
            stream(), {.params = gp, .grads = gg, .momentum_buffers = gm, .compute_copies = gc, .hyper = h});
      }
      EXPECT_TRUE(all_close(ops::to_host(stream(), dp), cp, 1e-5, 1e-6)) << (adam ? "adam" : "sgd");
      // The copy is the device master rounded to d.
      EXPECT_EQ(values<float>(dcopy),
                ops::cast_to(cpu(), ops::cast_to(cpu(), ops::to_host(stream(), dp), d), DType::kF32)
                    .to_vector<float>());
    }
  }
}

TEST_F(AmpOpsTest, StepValuesSelectAdvancesOnEveryGraphReplay) {
  Tensor table = Tensor::empty({4, kStepValueCount}, DType::kF64);
  for (int64_t i = 0; i < table.numel(); ++i) table.data_as<double>()[i] = static_cast<double>(i);
  const Tensor dt = to_device(table), cursor = to_device(Tensor::from_values(std::vector<int64_t>{0}, {1}));
  const Tensor out = to_device(Tensor::empty({kStepValueCount}, DType::kF64));
  const Stream s = stream();
  cuda::CudaGraph graph;
  {
    cuda::GraphCapture capture = graph.capture(s);
    ops::step_values_select(s, {.table = dt, .cursor = cursor, .out = out});
    capture.finish();
  }
  for (int r = 0; r < 5; ++r) {
    graph.replay(s);
    const double row = std::min(r, 3);  // past the end: the last row
    EXPECT_EQ(values<double>(out)[0], row * kStepValueCount) << "replay " << r;
  }
  EXPECT_EQ(values<int64_t>(cursor)[0], 5);
}

}  // namespace
}  // namespace sprint::testing
