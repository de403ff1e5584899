// loss_layers_test.cpp: the nn losses (CrossEntropyLoss with and without label smoothing, NllLoss; mean and sum
// reductions) on CUDA against the same loss on the CPU: the loss value and backward(scale), in f32 and (with the
// CPU fed the rounded inputs) in f16 and bf16.
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "gpu/gpu_test_util.h"
#include "gpu/layer_parity.h"
#include "sprint/nn/loss.h"
#include "sprint/ops/elementwise.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

class LossLayersTest : public CudaTest {
 protected:
  void check(const std::function<std::unique_ptr<nn::Loss>()>& make, int64_t n, int64_t k, DType dtype) {
    const Stream cpu = cpu_context().compute_stream();
    Generator rng(static_cast<uint64_t>(n * 31 + k));
    const Tensor input_h = ops::cast_to(cpu, random_tensor({n, k}, DType::kF64, rng, -3.0, 1.0), dtype);
    const Tensor target_h = random_labels(n, k, rng);
    const Tensor input_ref = ops::cast_to(cpu, input_h, DType::kF32);
    const Tensor input_dev = to_device(input_h), target_dev = to_device(target_h);
    std::unique_ptr<nn::Loss> ref = make(), dev = make();
    nn::RunContext ctx_ref{cpu}, ctx_dev{stream()};
    const Tensor loss_ref = ref->forward(ctx_ref, input_ref, target_h);
    const Tensor loss_dev = dev->forward(ctx_dev, input_dev, target_dev);
    const Tolerance t = layer_tolerance(dtype);
    EXPECT_TRUE(close_to(loss_dev, loss_ref, t)) << "loss";
    const Tensor d_ref = ref->backward(ctx_ref, 0.5);
    const Tensor d_dev = dev->backward(ctx_dev, 0.5);
    EXPECT_EQ(d_dev.dtype(), dtype);
    EXPECT_TRUE(close_to(d_dev, d_ref, t)) << "input gradient";
  }
};

TEST_F(LossLayersTest, CrossEntropyAndNll) {
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16})
    for (Reduction r : {Reduction::kMean, Reduction::kSum})
      for (const auto& [n, k] : {std::pair<int64_t, int64_t>{64, 10}, {3, 1000}, {1025, 7}}) {
        SCOPED_TRACE(fmt::format("{} N {} K {} {}", dtype_name(d), n, k, r == Reduction::kMean ? "mean" : "sum"));
        for (double smoothing : {0.0, 0.1}) {
          SCOPED_TRACE(fmt::format("cross-entropy, label smoothing {}", smoothing));
          check([=] { return std::make_unique<nn::CrossEntropyLoss>(smoothing, r); }, n, k, d);
        }
        SCOPED_TRACE("nll");
        check([=] { return std::make_unique<nn::NllLoss>(r); }, n, k, d);
      }
}

}  // namespace
}  // namespace sprint::testing
