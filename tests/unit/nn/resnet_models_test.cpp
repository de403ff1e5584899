// resnet_models_test.cpp: the ResNet variants of the zoo beyond the CIFAR resnet18: resnet18-imagenet
// (torchvision's layout exactly, 11,181,642 parameters with 10 classes:
// torchvision.models.resnet18(num_classes=10) summed over model.parameters()) and weight sharing
// (--share-weights): one parameter under two state_dict paths, counted once, its gradient the sum of both
// layers' contributions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "sprint/nn/conv.h"
#include "sprint/nn/models.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::nn {
namespace {

int64_t all_parameters(Module& net) {
  int64_t n = 0;
  for (const auto& [name, p] : net.named_parameters()) n += p->value().numel();
  return n;
}

ParameterPtr find_parameter(Module& net, const std::string& path) {
  for (const auto& [name, p] : net.named_parameters(SharedPaths::kEvery))
    if (name == path) return p;
  return nullptr;
}

TEST(ResnetModels, ImagenetLayoutMatchesTorchvision) {
  Generator rng(2);
  Model m = build_model("resnet18-imagenet", {3, 32, 32}, 10, rng);
  EXPECT_EQ(all_parameters(*m.net), 11181642);
  ASSERT_NE(find_parameter(*m.net, "conv1.weight"), nullptr);
  EXPECT_EQ(find_parameter(*m.net, "conv1.weight")->value().shape(), (Shape{64, 3, 7, 7}));
  EXPECT_EQ(m.net->output_shape({2, 3, 32, 32}), (Shape{2, 10}));
  EXPECT_EQ(m.net->output_shape({2, 3, 224, 224}), (Shape{2, 10}));
  EXPECT_TRUE(has_convolutions("resnet18-imagenet"));
  // The network runs: 32x32 -> 16 (stem) -> 8 (max-pool) -> 8, 4, 2, 1 (stages) -> pooled logits.
  RunContext ctx{cpu_context().compute_stream(), &rng};
  const Tensor x = testing::random_tensor({2, 3, 32, 32}, DType::kF32, rng);
  const Tensor y = m.net->forward(ctx, x);
  EXPECT_EQ(y.shape(), (Shape{2, 10}));
  for (float v : y.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(ResnetModels, SharedWeightIsOneParameterUnderTwoPaths) {
  for (const char* name : {"resnet10", "resnet18", "resnet18-imagenet"}) {
    SCOPED_TRACE(name);
    Generator a(4), b(4);
    Model plain = build_model(name, {3, 32, 32}, 10, a);
    Model shared = build_model(name, {3, 32, 32}, 10, b, {.share_weights = true});
    EXPECT_EQ(all_parameters(*shared.net), all_parameters(*plain.net) - 64 * 64 * 9);
    const ParameterPtr w1 = find_parameter(*shared.net, "layer1.0.conv1.weight");
    const ParameterPtr w2 = find_parameter(*shared.net, "layer1.0.conv2.weight");
    ASSERT_NE(w1, nullptr);
    EXPECT_EQ(w1, w2);
    // The first path names it for the optimizer; both paths are state_dict keys.
    const auto first = shared.net->named_parameters();
    EXPECT_EQ(std::count_if(first.begin(), first.end(),
                            [](const auto& e) { return e.first == "layer1.0.conv2.weight"; }),
              0);
    EXPECT_EQ(shared.net->named_parameters(SharedPaths::kEvery).size(), first.size() + 1);
  }
  Generator rng(0);
  EXPECT_THROW(build_model("resnet9", {3, 32, 32}, 10, rng, {.share_weights = true}), InvalidArgument);
  EXPECT_THROW(build_model("cnn", {1, 28, 28}, 10, rng, {.share_weights = true}), InvalidArgument);
}

// The shared weight's gradient is the sum of the two layers' weight gradients: the same network with two
// equal but separate weights gives grad(conv1) + grad(conv2).
TEST(ResnetModels, SharedWeightGradientSumsBothUses) {
  const Stream s = cpu_context().compute_stream();
  for (bool blocked : {false, true}) {
    SCOPED_TRACE(blocked ? "blocked" : "plain");
    Generator a(9), b(9), data(3);
    Model shared = build_model("resnet10", {3, 16, 16}, 10, a, {.share_weights = true});
    Model plain = build_model("resnet10", {3, 16, 16}, 10, b);
    // plain gets shared's weights everywhere (its own conv2 weight is a copy of the shared one).
    for (const auto& [path, p] : plain.net->named_parameters())
      p->load_value(s, find_parameter(*shared.net, path)->value());
    const Tensor x = testing::random_tensor({4, 3, 16, 16}, DType::kF32, data);
    const Tensor labels = testing::random_labels(4, 10, data);
    auto run = [&](Model& m) {
      Generator rng(1);
      RunContext ctx{s, &rng};
      if (blocked) ctx.activation_format = ops::preferred_activation_format(s, DType::kF32);
      for (const ParameterPtr& p : m.net->parameters()) p->zero_grad();
      m.loss->forward(ctx, m.net->forward(ctx, x), labels);
      m.net->backward(ctx, m.loss->backward(ctx));
    };
    run(shared);
    run(plain);
    auto grad = [&](Model& m, const std::string& path) {
      return ops::cast_to(s, find_parameter(*m.net, path)->grad(), DType::kF32).to_vector<float>();
    };
    const std::vector<float> got = grad(shared, "layer1.0.conv1.weight");
    const std::vector<float> g1 = grad(plain, "layer1.0.conv1.weight"),
                             g2 = grad(plain, "layer1.0.conv2.weight");
    ASSERT_EQ(got.size(), g1.size());
    double err = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double want = double(g1[i]) + double(g2[i]);
      err = std::max(err, std::abs(got[i] - want));
      norm = std::max(norm, std::abs(want));
    }
    EXPECT_GT(norm, 0.0);
    EXPECT_LE(err, 1e-4 * norm) << "max |shared - (g1 + g2)| = " << err << ", max |g1 + g2| = " << norm;
    // And it is not just one of the two uses.
    double diff1 = 0;
    for (size_t i = 0; i < got.size(); ++i) diff1 = std::max(diff1, double(std::abs(got[i] - g1[i])));
    EXPECT_GT(diff1, 10 * err);
  }
}

}  // namespace
}  // namespace sprint::nn
