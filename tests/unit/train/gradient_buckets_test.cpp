// gradient_buckets_test.cpp: the bucket plan (by size and dtype, a new plan when the gradients change) and the
// round trip of every gradient through its bucket, on a group of one (where the mean is the gradient itself):
// f32, bf16 and f64 gradients, a channel-blocked one, values unchanged to the bit.
#include "sprint/train/gradient_buckets.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::train {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

// A parameter whose gradient holds 0.5·i - 3 (exact in every dtype here) and counts as written.
nn::ParameterPtr param_with_grad(const Shape& shape, DType dtype, MemoryFormat format = MemoryFormat::kContiguous) {
  std::vector<double> v;
  for (int64_t i = 0; i < shape.product(); ++i) v.push_back(0.5 * static_cast<double>(i % 17) - 3.0);
  const Tensor value = ops::cast_to(cpu(), Tensor::from_values<double>(v, shape), dtype, format);
  auto p = std::make_shared<nn::Parameter>("p", value);
  (void)p->take_grad_mode();
  ops::copy(cpu(), value, p->grad());
  return p;
}

std::vector<double> grad_values(const nn::Parameter& p) {
  const Tensor f64 = ops::cast_to(cpu(), p.grad(), DType::kF64);
  return {f64.data_as<double>(), f64.data_as<double>() + f64.numel()};
}

TEST(GradientBuckets, EveryGradientRoundTripsThroughItsBucket) {
  const std::vector<nn::ParameterPtr> params = {
      param_with_grad({300}, DType::kF32), param_with_grad({2, 12, 3, 3}, DType::kF32, MemoryFormat::kChannelsBlocked8),
      param_with_grad({50}, DType::kBF16), param_with_grad({7}, DType::kF64), param_with_grad({1000}, DType::kF32)};
  std::vector<std::vector<double>> before;
  for (const auto& p : params) before.push_back(grad_values(*p));
  GradientBuckets buckets(1024);  // a bucket closes at 256 f32 elements
  auto group = dist::make_single_process_group();
  buckets.allreduce_mean(*group, cpu(), params);
  // f32 buckets: {300} (1200 bytes), {216, 50} (the bf16 one reduced in f32: 1064 bytes), {1000}; f64: {7}.
  EXPECT_EQ(buckets.bucket_count(), 4u);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(grad_values(*params[i]), before[i]) << i;
  EXPECT_EQ(group->traffic().collectives, 4);
  // A gradient that was not written (a frozen layer) leaves the plan, which is made again.
  params[0]->zero_grad();
  buckets.allreduce_mean(*group, cpu(), params);
  EXPECT_EQ(buckets.bucket_count(), 3u);  // {216, 50}, {1000} and {7}
  EXPECT_THROW(GradientBuckets(0), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
