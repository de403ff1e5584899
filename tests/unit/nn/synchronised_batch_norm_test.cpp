// synchronised_batch_norm_test.cpp: BatchNorm2d with a ReplicaSum in its RunContext (synchronised batch norm).
// One replica computes what plain batch norm computes; two replicas on two threads, each with half of a batch and
// summing through a rendezvous, compute what plain batch norm computes on the whole batch: outputs, running
// statistics, input gradients, and parameter gradients that add up to the whole batch's.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "sprint/backend/api/norm.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/replica_sum.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

/// The one replica of a job: the sum is the tensor itself. Counts the calls.
class OneReplica final : public ReplicaSum {
 public:
  void sum(const Stream&, const Tensor&) override { ++calls; }
  int calls = 0;
};

/// Two replicas on two threads: each sum() waits for the other's, then both hold the total.
class TwoThreadReplicas final : public ReplicaSum {
 public:
  void sum(const Stream&, const Tensor& t) override {
    std::unique_lock lock(mutex_);
    ASSERT_EQ(t.dtype(), DType::kF64);
    if (waiting_ == nullptr) {
      waiting_ = &t;
      const int64_t round = round_;
      done_.wait(lock, [&] { return round_ != round; });
      return;
    }
    ASSERT_EQ(waiting_->numel(), t.numel());
    double* a = waiting_->data_as<double>();
    double* b = t.data_as<double>();
    for (int64_t i = 0; i < t.numel(); ++i) a[i] = b[i] = a[i] + b[i];
    waiting_ = nullptr;
    ++round_;
    ++sums;
    done_.notify_all();
  }
  int sums = 0;

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  const Tensor* waiting_ = nullptr;
  int64_t round_ = 0;
};

struct Result {
  Tensor y, dx, dgamma, dbeta, running_mean, running_var;
};

// A BatchNorm2d with fixed parameters and running statistics, one training forward and backward on (x, dy).
Result run(const Tensor& x, const Tensor& dy, DType dtype, ReplicaSum* replicas, bool affine = true) {
  const Stream s = cpu_context().compute_stream();
  const int64_t c = x.dim(1);
  BatchNorm2d bn(BatchNormOptions(c).with_dtype(dtype).with_affine(affine).with_momentum(0.3));
  Generator rng(5);
  const DType pt = norm_param_dtype(dtype);
  if (affine) {
    bn.weight()->set_value(ops::cast_to(s, testing::random_tensor({c}, DType::kF64, rng, 0.5, 1.5), pt));
    bn.bias()->set_value(ops::cast_to(s, testing::random_tensor({c}, DType::kF64, rng), pt));
  }
  ops::copy(s, ops::cast_to(s, testing::random_tensor({c}, DType::kF64, rng), pt), bn.running_mean());
  ops::copy(s, ops::cast_to(s, testing::random_tensor({c}, DType::kF64, rng, 0.5, 2.0), pt), bn.running_var());
  bn.train();
  bn.set_needs_input_grad(true);
  RunContext ctx{s};
  ctx.replica_sum = replicas;
  Result r;
  r.y = ops::cast_to(s, bn.forward(ctx, x), DType::kF64);
  if (affine) {
    bn.weight()->zero_grad();
    bn.bias()->zero_grad();
  }
  r.dx = ops::cast_to(s, bn.backward(ctx, dy), DType::kF64);
  if (affine) {
    r.dgamma = ops::cast_to(s, bn.weight()->grad(), DType::kF64);
    r.dbeta = ops::cast_to(s, bn.bias()->grad(), DType::kF64);
  }
  r.running_mean = ops::cast_to(s, bn.running_mean(), DType::kF64);
  r.running_var = ops::cast_to(s, bn.running_var(), DType::kF64);
  return r;
}

Tensor input(const Shape& shape, DType dtype, MemoryFormat format, uint64_t seed, double low, double high) {
  Generator rng(seed);
  return ops::cast_to(cpu_context().compute_stream(), testing::random_tensor(shape, DType::kF64, rng, low, high),
                      dtype, format);
}

Tensor half_of(const Tensor& t, int part) {  // rows [part·N/2, (part + 1)·N/2), as a contiguous f64 copy
  const int64_t n = t.dim(0) / 2;
  return ops::cast_to(cpu_context().compute_stream(), t.narrow(0, part * n, n), DType::kF64);
}

void expect_close(const Tensor& a, const Tensor& b, double tol, const char* what) {
  EXPECT_TRUE(testing::all_close(a, b, tol, tol)) << what;
}

TEST(SynchronisedBatchNorm, OneReplicaComputesPlainBatchNorm) {
  for (DType dtype : {DType::kF64, DType::kF32, DType::kBF16}) {
    for (MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast,
                                MemoryFormat::kChannelsBlocked16}) {
      if (dtype != DType::kF32 && format == MemoryFormat::kChannelsBlocked16) continue;  // blocked: f32 only
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + memory_format_name(format));
      const Tensor x = input({6, 5, 3, 4}, dtype, format, 1, -1.0, 3.0);
      const Tensor dy = input({6, 5, 3, 4}, dtype, format, 2, -1.0, 1.0);
      OneReplica one;
      const Result synced = run(x, dy, dtype, &one), plain = run(x, dy, dtype, nullptr);
      EXPECT_EQ(one.calls, 2);  // forward sums, backward sums
      const double tol = dtype == DType::kF64 ? 1e-12 : dtype == DType::kF32 ? 2e-5 : 2e-2;
      expect_close(synced.y, plain.y, tol, "y");
      expect_close(synced.dx, plain.dx, tol, "dx");
      expect_close(synced.dgamma, plain.dgamma, tol, "dgamma");
      expect_close(synced.dbeta, plain.dbeta, tol, "dbeta");
      expect_close(synced.running_mean, plain.running_mean, tol, "running_mean");
      expect_close(synced.running_var, plain.running_var, tol, "running_var");
    }
  }
}

TEST(SynchronisedBatchNorm, TwoReplicasComputeTheWholeBatch) {
  for (bool affine : {true, false}) {
    for (DType dtype : {DType::kF64, DType::kF32}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + (affine ? " affine" : " plain"));
      // Per-channel means far from 0, so that per-replica and whole-batch statistics differ visibly.
      const Tensor x = input({8, 3, 4, 5}, dtype, MemoryFormat::kChannelsLast, 3, 2.0, 6.0);
      const Tensor dy = input({8, 3, 4, 5}, dtype, MemoryFormat::kChannelsLast, 4, -1.0, 1.0);
      const Result whole = run(x, dy, dtype, nullptr, affine);
      const Tensor x0 = ops::cast_to(cpu_context().compute_stream(), half_of(x, 0), dtype);
      const Tensor x1 = ops::cast_to(cpu_context().compute_stream(), half_of(x, 1), dtype);
      const Tensor dy0 = ops::cast_to(cpu_context().compute_stream(), half_of(dy, 0), dtype);
      const Tensor dy1 = ops::cast_to(cpu_context().compute_stream(), half_of(dy, 1), dtype);
      TwoThreadReplicas replicas;
      Result r0, r1;
      std::thread other([&] { r1 = run(x1, dy1, dtype, &replicas, affine); });
      r0 = run(x0, dy0, dtype, &replicas, affine);
      other.join();
      EXPECT_EQ(replicas.sums, 2);
      const double tol = dtype == DType::kF64 ? 1e-12 : 1e-5;
      expect_close(r0.y, half_of(whole.y, 0), tol, "y of replica 0");
      expect_close(r1.y, half_of(whole.y, 1), tol, "y of replica 1");
      expect_close(r0.dx, half_of(whole.dx, 0), tol, "dx of replica 0");
      expect_close(r1.dx, half_of(whole.dx, 1), tol, "dx of replica 1");
      for (const Result* r : {&r0, &r1}) {
        expect_close(r->running_mean, whole.running_mean, tol, "running_mean");
        expect_close(r->running_var, whole.running_var, tol, "running_var");
      }
      if (affine) {  // each replica's own; their sum is the whole batch's
        const Stream s = cpu_context().compute_stream();
        Tensor dgamma = Tensor::empty({3}, DType::kF64), dbeta = Tensor::empty({3}, DType::kF64);
        ops::axpby(s, {.a = r0.dgamma, .b = r1.dgamma, .out = dgamma});
        ops::axpby(s, {.a = r0.dbeta, .b = r1.dbeta, .out = dbeta});
        expect_close(dgamma, whole.dgamma, tol, "dgamma summed");
        expect_close(dbeta, whole.dbeta, tol, "dbeta summed");
      }
      // Unsynchronised halves normalise with their own statistics: visibly different.
      const Result alone = run(x0, dy0, dtype, nullptr, affine);
      EXPECT_FALSE(testing::all_close(alone.y, half_of(whole.y, 0), 1e-3, 1e-3));
    }
  }
}

TEST(SynchronisedBatchNorm, EvaluationUsesTheRunningStatisticsWithoutSumming) {
  const Tensor x = input({4, 2, 3, 3}, DType::kF32, MemoryFormat::kContiguous, 7, -1.0, 1.0);
  BatchNorm2d bn(BatchNormOptions(2));
  bn.eval();
  OneReplica one;
  RunContext ctx{cpu_context().compute_stream()};
  ctx.replica_sum = &one;
  bn.forward(ctx, x);
  EXPECT_EQ(one.calls, 0);
}

}  // namespace
}  // namespace sprint::nn
