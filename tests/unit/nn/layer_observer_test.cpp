// layer_observer_test.cpp: containers report every child's forward and backward to RunContext::observer,
// nested, with the child's local name: Sequential by its names, ResidualBlock by torchvision's paths (conv1
// ... bn2, downsample.0, downsample.1), Residual as body / shortcut; with no observer nothing is called and
// the results are the same.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sprint/nn/activation.h"
#include "sprint/nn/layer_observer.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/residual.h"
#include "sprint/nn/sequential.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

// Records "+path:phase" / "-path:phase" for every call, building paths from the nesting.
class RecordingObserver final : public LayerObserver {
 public:
  void layer_begin(const RunContext&, std::string_view name, const Module&, Phase phase,
                   const Tensor& input) override {
    EXPECT_TRUE(input.defined());
    path_.push_back(path_.empty() ? std::string(name) : path_.back() + "." + std::string(name));
    calls.push_back("+" + path_.back() + ":" + phase_name(phase));
  }
  void layer_end(const RunContext&, std::string_view, const Module&, Phase phase) override {
    calls.push_back("-" + path_.back() + ":" + phase_name(phase));
    path_.pop_back();
  }
  std::vector<std::string> calls;

 private:
  std::vector<std::string> path_;
};

TEST(LayerObserver, SequentialReportsEachChildInOrderAndReverse) {
  Generator rng(3);
  Sequential net;
  net.add(std::make_shared<Linear>(LinearOptions(4, 3), rng), "fc1");
  net.add(std::make_shared<ReLU>());
  const Stream stream = cpu_context().compute_stream();
  const Tensor x = testing::random_tensor({2, 4}, DType::kF32, rng);
  const Tensor dy = testing::random_tensor({2, 3}, DType::kF32, rng);

  RecordingObserver observer;
  RunContext ctx{stream};
  ctx.observer = &observer;
  const Tensor y = net.forward(ctx, x);
  const std::vector<float> observed(y.data_as<float>(), y.data_as<float>() + y.numel());
  (void)net.backward(ctx, dy);
  const std::vector<std::string> expected = {"+fc1:forward",  "-fc1:forward", "+1:forward",
                                             "-1:forward",    "+1:backward",  "-1:backward",
                                             "+fc1:backward", "-fc1:backward"};
  EXPECT_EQ(observer.calls, expected);

  // Off: nothing told, same output.
  RunContext plain{stream};
  const Tensor y_plain = net.forward(plain, x);
  EXPECT_EQ(std::vector<float>(y_plain.data_as<float>(), y_plain.data_as<float>() + y_plain.numel()),
            observed);
  EXPECT_EQ(observer.calls.size(), expected.size());
}

TEST(LayerObserver, ResidualBlockUsesTorchvisionPaths) {
  Generator rng(3);
  Sequential net;
  net.add(std::make_shared<ResidualBlock>(ResidualBlockOptions(2, 4).with_stride(2), rng), "block");
  const Stream stream = cpu_context().compute_stream();
  const Tensor x = testing::random_tensor({1, 2, 4, 4}, DType::kF32, rng);
  RecordingObserver observer;
  RunContext ctx{stream};
  ctx.observer = &observer;
  (void)net.forward(ctx, x);
  std::vector<std::string> begun;
  for (const std::string& c : observer.calls)
    if (c[0] == '+') begun.push_back(c.substr(1));
  const std::vector<std::string> expected = {"block:forward",
                                             "block.conv1:forward",
                                             "block.bn1:forward",
                                             "block.relu:forward",
                                             "block.conv2:forward",
                                             "block.bn2:forward",
                                             "block.downsample:forward",
                                             "block.downsample.0:forward",
                                             "block.downsample.1:forward"};
  EXPECT_EQ(begun, expected);
}

TEST(LayerObserver, ResidualNamesItsBranches) {
  Generator rng(3);
  auto body = std::make_shared<Sequential>();
  body->add(std::make_shared<Linear>(LinearOptions(3, 3), rng), "fc");
  Sequential net;
  net.add(std::make_shared<Residual>(body, std::make_shared<ReLU>()), "res");
  const Stream stream = cpu_context().compute_stream();
  RecordingObserver observer;
  RunContext ctx{stream};
  ctx.observer = &observer;
  (void)net.forward(ctx, testing::random_tensor({2, 3}, DType::kF32, rng));
  const std::vector<std::string> expected = {
      "+res:forward",      "+res.body:forward",     "+res.body.fc:forward",  "-res.body.fc:forward",
      "-res.body:forward", "+res.shortcut:forward", "-res.shortcut:forward", "-res:forward"};
  EXPECT_EQ(observer.calls, expected);
}

}  // namespace
}  // namespace sprint::nn
