// norm_gradcheck_test.cpp: float64 finite differences for BatchNorm2d: training mode (affine, without a
// trainable scale, without parameters), eval mode with non-trivial running statistics, both memory formats,
// and Conv-BN-ReLU.
#include <gtest/gtest.h>

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/replica_sum.h"
#include "sprint/nn/sequential.h"
#include "sprint/runtime/device_registry.h"
#include "support/gradcheck.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

BatchNormOptions f64(BatchNormOptions o) {
  return o.with_dtype(DType::kF64);
}

testing::GradcheckOptions with_format(MemoryFormat f, bool training = true) {
  testing::GradcheckOptions o;
  o.input_format = f;
  o.training = training;
  return o;
}

void check_both_formats(Module& m, const Shape& shape, bool training = true) {
  testing::expect_module_gradients(m, shape, with_format(MemoryFormat::kContiguous, training));
  testing::expect_module_gradients(m, shape, with_format(MemoryFormat::kChannelsLast, training));
}

// Trainable scale and shift, set away from 1 / 0 so that gamma enters dx.
TEST(NormGradcheck, TrainingAffine) {
  BatchNorm2d bn(f64(BatchNormOptions(3)));
  Generator rng(1);
  bn.weight()->set_value(testing::random_tensor({3}, DType::kF64, rng, 0.5, 1.5));
  bn.bias()->set_value(testing::random_tensor({3}, DType::kF64, rng));
  check_both_formats(bn, {4, 3, 3, 2});
}

TEST(NormGradcheck, TrainingWithoutTrainableScale) {
  BatchNorm2d bn(f64(BatchNormOptions(4).with_trainable_scale(false)));
  EXPECT_EQ(bn.weight(), nullptr);
  check_both_formats(bn, {3, 4, 2, 3});
}

TEST(NormGradcheck, TrainingWithoutParameters) {
  BatchNorm2d bn(f64(BatchNormOptions(2).with_affine(false)));
  EXPECT_TRUE(bn.parameters().empty());
  check_both_formats(bn, {5, 2, 2, 2});
}

TEST(NormGradcheck, TrainingWithFrozenShift) {
  BatchNorm2d bn(f64(BatchNormOptions(3)));
  bn.bias()->set_trainable(false);
  check_both_formats(bn, {2, 3, 3, 3});
}

// Synchronised over a job of one replica (the sum over replicas is the identity): the split into sums, statistics
// and input gradient differentiates correctly, with and without a scale.
TEST(NormGradcheck, TrainingSynchronisedOverReplicas) {
  struct OneReplica final : ReplicaSum {
    void sum(const Stream&, const Tensor&) override {}
  } one;
  for (bool scale : {true, false}) {
    BatchNorm2d bn(f64(BatchNormOptions(3).with_trainable_scale(scale)));
    Generator rng(2);
    if (scale) bn.weight()->set_value(testing::random_tensor({3}, DType::kF64, rng, 0.5, 1.5));
    bn.bias()->set_value(testing::random_tensor({3}, DType::kF64, rng));
    for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast}) {
      testing::GradcheckOptions o = with_format(format);
      o.replica_sum = &one;
      testing::expect_module_gradients(bn, {4, 3, 3, 2}, o);
    }
  }
}

TEST(NormGradcheck, EvalUsesRunningStatistics) {
  BatchNorm2d bn(f64(BatchNormOptions(3).with_momentum(0.5)));
  Generator rng(2);
  RunContext ctx{cpu_context().compute_stream()};
  for (int i = 0; i < 3; ++i)
    bn.forward(ctx, testing::random_tensor({4, 3, 2, 2}, DType::kF64, rng, -2.0, 3.0));
  bn.weight()->set_value(testing::random_tensor({3}, DType::kF64, rng, 0.5, 1.5));
  check_both_formats(bn, {2, 3, 3, 3}, /*training=*/false);
}

TEST(NormGradcheck, ConvBatchNormRelu) {
  Generator rng(3);
  Sequential net;
  net.emplace<Conv2d>(ConvOptions(2, 4, 3).with_padding(1).with_bias(false).with_dtype(DType::kF64), rng);
  net.emplace<BatchNorm2d>(f64(BatchNormOptions(4)));
  net.emplace<ReLU>();
  check_both_formats(net, {3, 2, 4, 4});
}

}  // namespace
}  // namespace sprint::nn
