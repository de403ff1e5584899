// gradient_buckets_test.cpp: the bucket plan (by size and dtype, a new plan when the gradients change), the
// round trip of every gradient through its bucket on a group of one (where the mean is the gradient itself:
// f32, bf16 and f64 gradients, a channel-blocked one, values unchanged to the bit), and the overlap with
// backward: buckets start as soon as their gradients are final, a shared parameter only after its last
// writer, in backward order.
#include "sprint/train/gradient_buckets.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "sprint/nn/layer_observer.h"
#include "sprint/nn/sequential.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::train {
namespace {

const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

// A value whose entries are 0.5·(i mod 17) - 3 (exact in every dtype here).
Tensor ramp(const Shape& shape, DType dtype, MemoryFormat format = MemoryFormat::kContiguous) {
  std::vector<double> v;
  for (int64_t i = 0; i < shape.product(); ++i) v.push_back(0.5 * static_cast<double>(i % 17) - 3.0);
  return ops::cast_to(cpu(), Tensor::from_values<double>(v, shape), dtype, format);
}

// A layer owning one parameter, whose backward writes the ramp into its gradient (adds it, for later writers)
// and passes dy through; `log` records the order of backward calls.
class RampLayer final : public nn::Module {
 public:
  RampLayer(const Shape& shape, DType dtype, MemoryFormat format, std::vector<const RampLayer*>* log)
      : log_(log) {
    param_ = add_parameter(std::make_shared<nn::Parameter>("weight", ramp(shape, dtype, format)));
  }
  void share_from(const RampLayer& other) {
    replace_parameter(param_, other.param_);
    param_ = other.param_;
  }
  const nn::ParameterPtr& param() const { return param_; }
  std::string type_name() const override { return "RampLayer"; }
  Tensor forward(nn::RunContext&, const Tensor& x) override { return x; }
  Tensor backward(nn::RunContext&, const Tensor& dy) override {
    const Tensor g = ramp(param_->value().shape(), param_->value().dtype(), param_->value().memory_format());
    switch (param_->take_grad_mode()) {
      case GradMode::kOverwrite:
        ops::copy(cpu(), g, param_->grad());
        break;
      case GradMode::kAccumulate:
        ops::axpby(cpu(), {.a = g, .b = param_->grad(), .out = param_->grad(), .alpha = 1.0});
        break;
    }
    if (log_ != nullptr) log_->push_back(this);
    return dy;
  }
  Shape output_shape(const Shape& input) const override { return input; }

 private:
  nn::ParameterPtr param_;
  std::vector<const RampLayer*>* log_;
};

std::vector<double> grad_values(const nn::Parameter& p) {
  const Tensor f64 = ops::cast_to(cpu(), p.grad(), DType::kF64);
  return {f64.data_as<double>(), f64.data_as<double>() + f64.numel()};
}

struct Net {
  nn::Sequential seq;
  std::vector<std::shared_ptr<RampLayer>> layers;
  std::vector<const RampLayer*> log;
  void add(const Shape& shape, DType dtype, MemoryFormat format = MemoryFormat::kContiguous) {
    layers.push_back(std::make_shared<RampLayer>(shape, dtype, format, &log));
    seq.add(layers.back());
  }
  void backward(GradientBuckets* listener) {
    for (const auto& l : layers) l->param()->zero_grad();
    nn::RunContext ctx{cpu()};
    ctx.gradient_listener = listener;
    const Tensor dy = Tensor::from_values<float>({0.0F}, {1});
    (void)seq.backward(ctx, dy);
  }
};

TEST(GradientBuckets, EveryGradientRoundTripsThroughItsBucket) {
  Net net;
  net.add({300}, DType::kF32);
  net.add({2, 12, 3, 3}, DType::kF32, MemoryFormat::kChannelsBlocked8);
  net.add({50}, DType::kBF16);
  net.add({7}, DType::kF64);
  net.add({1000}, DType::kF32);
  GradientBuckets buckets(1024, net.seq);  // a bucket closes at 256 f32 elements
  auto group = dist::make_single_process_group();
  net.backward(nullptr);
  std::vector<std::vector<double>> before;
  for (const auto& l : net.layers) before.push_back(grad_values(*l->param()));
  buckets.finish(*group, cpu());
  // Not announced: laid out last parameter first. f32: {1000}, {50 (bf16, reduced in f32), 216}, {300}; f64:
  // {7}.
  EXPECT_EQ(buckets.bucket_count(), 4u);
  for (size_t i = 0; i < net.layers.size(); ++i)
    EXPECT_EQ(grad_values(*net.layers[i]->param()), before[i]) << i;
  EXPECT_EQ(group->traffic().collectives, 4);
  // A gradient that was not written (a frozen layer) leaves the plan, which is made again.
  net.layers[0]->param()->set_trainable(false);
  net.backward(nullptr);
  buckets.finish(*group, cpu());
  EXPECT_EQ(buckets.bucket_count(), 3u);  // {1000}, {50, 216} and {7}
  EXPECT_THROW(GradientBuckets(0, net.seq), InvalidArgument);
}

TEST(GradientBuckets, BucketsStartDuringBackwardOnceTheirGradientsAreFinal) {
  Net net;
  for (int i = 0; i < 4; ++i) net.add({256}, DType::kF32);  // one 1 KiB bucket each
  net.layers[3]->share_from(
      *net.layers[0]);  // written by the last layer and the first: final after the first
  GradientBuckets buckets(1024, net.seq);
  auto group = dist::make_single_process_group();
  // First step: nothing is planned yet, so nothing starts early; the plan follows the order gradients became
  // final.
  buckets.begin_step(*group, cpu());
  net.backward(&buckets);
  buckets.finish(*group, cpu());
  EXPECT_EQ(buckets.started_during_backward(), 0u);
  EXPECT_EQ(buckets.bucket_count(), 3u);
  // The shared gradient holds both writers' sums.
  std::vector<double> twice = grad_values(*net.layers[1]->param());
  for (double& v : twice) v *= 2;
  EXPECT_EQ(grad_values(*net.layers[0]->param()), twice);
  // Later steps: every bucket starts inside backward (the last one when the first layer, the shared
  // parameter's last writer, returns).
  for (int step = 0; step < 2; ++step) {
    buckets.begin_step(*group, cpu());
    net.backward(&buckets);
    EXPECT_EQ(buckets.started_during_backward(), 3u);
    buckets.finish(*group, cpu());
    EXPECT_EQ(grad_values(*net.layers[0]->param()), twice);
  }
  EXPECT_EQ(group->traffic().collectives, 9);
}

}  // namespace
}  // namespace sprint::train
