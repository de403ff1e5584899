// cifar_models_test.cpp: the CIFAR speed-run models (resnet9, vgg16, airbench94): parameter counts against
// their PyTorch twins (bench/peers/cifar_models.py: sum(p.numel() for p in model.parameters()), frozen ones
// included), output shapes, airbench94's frozen parameters and initialisation, and the initialisers they use
// (dirac, symmetric eigen-decomposition, whitening).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "sprint/nn/conv.h"
#include "sprint/nn/init.h"
#include "sprint/nn/models.h"
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

TEST(CifarModels, ParameterCountsMatchThePyTorchTwins) {
  Generator rng(0);
  const Shape cifar{3, 32, 32};
  Model r9 = build_model("resnet9", cifar, 10, rng);
  EXPECT_EQ(all_parameters(*r9.net), 6573120);
  Model vgg = build_model("vgg16", cifar, 10, rng);
  EXPECT_EQ(all_parameters(*vgg.net), 14728266);
  Model ab = build_model("airbench94", cifar, 10, rng);
  EXPECT_EQ(all_parameters(*ab.net), 1972792);
  // Trainable: minus the whitening weight (24·3·2·2) and the BN scales (2·64 + 4·256).
  EXPECT_EQ(ab.net->n_parameters(), 1972792 - 288 - 1152);
}

// FISH's CIFAR ResNet-34 (cifar10-fast/resnet.py, resnet34(num_classes=10)): 21,282,122 parameters, 8,512
// BatchNorm channels, the max-pool after the 3x3 stem kept (16x16 into layer1, 2x2 out of layer4), torchvision's
// names; a batch of CIFAR images gives (N, 10) logits.
TEST(CifarModels, Resnet34IsFishsNetwork) {
  Generator rng(7);
  Model m = build_model("resnet34", {3, 32, 32}, 10, rng);
  EXPECT_EQ(all_parameters(*m.net), 21282122);
  int64_t bn_channels = 0;
  for (const NamedBuffer& b : m.net->named_buffers())
    if (b.name.ends_with("running_mean")) bn_channels += b.value.numel();
  EXPECT_EQ(bn_channels, 8512);
  std::set<std::string> names;
  for (const auto& [path, p] : m.net->named_parameters()) names.insert(path);
  for (const char* expected : {"conv1.weight", "layer1.2.conv2.weight", "layer2.3.bn1.bias", "layer3.5.conv1.weight",
                               "layer4.2.bn2.weight", "layer4.0.downsample.0.weight", "fc.bias"})
    EXPECT_TRUE(names.count(expected)) << expected;
  EXPECT_FALSE(names.count("layer1.3.conv1.weight"));
  Generator data(8);
  const Tensor x = testing::random_tensor({2, 3, 32, 32}, DType::kF32, data);
  m.net->eval();
  RunContext ctx{cpu_context().compute_stream()};
  EXPECT_EQ(m.net->forward(ctx, x).shape(), (Shape{2, 10}));
}

// torchvision's resnet18(num_classes=10) with a 3x3 stride-1 conv1 and no max-pool: 11,173,962 parameters and
// its state_dict names (bench/peers/pytorch_train.py's ResNet18 mirrors torchvision's module layout).
TEST(CifarModels, Resnet18HasTorchvisionNames) {
  Generator rng(6);
  Model m = build_model("resnet18", {3, 32, 32}, 10, rng);
  EXPECT_EQ(all_parameters(*m.net), 11173962);
  std::vector<std::string> names;
  for (const auto& [path, p] : m.net->named_parameters()) names.push_back(path);
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(names.front(), "conv1.weight");
  EXPECT_EQ(names[1], "bn1.weight");
  EXPECT_EQ(names[3], "layer1.0.conv1.weight");
  EXPECT_EQ(names.back(), "fc.bias");
  const std::set<std::string> set(names.begin(), names.end());
  for (const char* expected : {"layer1.1.bn2.bias", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
                               "layer4.1.conv2.weight", "fc.weight"})
    EXPECT_TRUE(set.count(expected)) << expected;
  std::set<std::string> buffers;
  for (const NamedBuffer& b : m.net->named_buffers()) buffers.insert(b.name);
  EXPECT_TRUE(buffers.count("layer3.0.downsample.1.running_mean"));
  EXPECT_TRUE(buffers.count("bn1.running_var"));
}

TEST(CifarModels, OutputShapesAndNames) {
  Generator rng(1);
  for (const char* name : {"resnet9", "vgg16", "airbench94"}) {
    SCOPED_TRACE(name);
    Model m = build_model(name, {3, 32, 32}, 7, rng);
    EXPECT_EQ(m.net->output_shape({5, 3, 32, 32}), Shape({5, 7}));
    EXPECT_TRUE(has_convolutions(name));
    std::set<std::string> names;
    for (const auto& [path, p] : m.net->named_parameters()) EXPECT_TRUE(names.insert(path).second) << path;
  }
  Model ab = build_model("airbench94", {3, 32, 32}, 10, rng);
  std::set<std::string> names;
  for (const auto& [path, p] : ab.net->named_parameters()) names.insert(path);
  for (const char* expected : {"0.weight", "0.bias", "2.conv1.weight", "2.norm1.weight", "2.norm1.bias",
                               "3.conv2.weight", "4.norm2.bias", "7.weight"})
    EXPECT_TRUE(names.count(expected)) << expected;
  EXPECT_THROW(build_model("airbench94", {3, 28, 28}, 10, rng), InvalidArgument);
}

TEST(CifarModels, AirbenchFreezesItsWhiteningBiasAfterThreeEpochs) {
  Generator rng(2);
  Model m = build_model("airbench94", {3, 32, 32}, 10, rng);
  ASSERT_TRUE(m.on_epoch_start && m.init_from_data);
  EXPECT_EQ(m.init_samples, 5000);
  ParameterPtr bias;
  for (const auto& [path, p] : m.net->named_parameters())
    if (path == "0.bias") bias = p;
  ASSERT_TRUE(bias);
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    m.on_epoch_start(epoch);
    EXPECT_EQ(bias->trainable(), epoch < 3) << "epoch " << epoch;
  }
}

TEST(CifarModels, AirbenchConvsAreDiracInitialised) {
  Generator rng(3);
  Model m = build_model("airbench94", {3, 32, 32}, 10, rng);
  for (const auto& [path, p] : m.net->named_parameters()) {
    if (path.find("conv") == std::string::npos) continue;
    const Tensor& w = p->value();  // (K, C, 3, 3)
    const std::vector<float> v = w.to_vector<float>();
    const int64_t c = w.dim(1);
    for (int64_t f = 0; f < std::min(w.dim(0), c); ++f)
      for (int64_t i = 0; i < c * 9; ++i)
        ASSERT_EQ(v[static_cast<size_t>(f * c * 9 + i)], i == f * 9 + 4 ? 1.f : 0.f)
            << path << " filter " << f;
  }
}

TEST(Init, SymmetricEigenDecomposesAKnownMatrix) {
  // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1) / sqrt 2 and (1, 1) / sqrt 2.
  std::vector<double> values, vectors;
  init::symmetric_eigen({2, 1, 1, 2}, 2, values, vectors);
  EXPECT_NEAR(values[0], 1.0, 1e-12);
  EXPECT_NEAR(values[1], 3.0, 1e-12);
  EXPECT_NEAR(std::abs(vectors[0] * vectors[1] * 2), 1.0, 1e-12);
  EXPECT_LT(vectors[0] * vectors[1], 0.0);
  EXPECT_GT(vectors[2] * vectors[3], 0.0);
  // A random symmetric 12 x 12: A v = lambda v for every pair, vectors orthonormal.
  Generator rng(4);
  const int64_t n = 12;
  std::vector<double> a(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = rng.uniform() - 0.5;
  init::symmetric_eigen(a, n, values, vectors);
  EXPECT_TRUE(std::is_sorted(values.begin(), values.end()));
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t i = 0; i < n; ++i) {
      double av = 0.0;
      for (int64_t j = 0; j < n; ++j) av += a[i * n + j] * vectors[k * n + j];
      EXPECT_NEAR(av, values[k] * vectors[k * n + i], 1e-10);
    }
    for (int64_t l = 0; l < n; ++l) {
      double dot = 0.0;
      for (int64_t i = 0; i < n; ++i) dot += vectors[k * n + i] * vectors[l * n + i];
      EXPECT_NEAR(dot, k == l ? 1.0 : 0.0, 1e-10);
    }
  }
}

TEST(Init, WhiteningDecorrelatesPatches) {
  // Correlated random images: after whitening (eps -> 0), the first E filters map patches to outputs whose
  // second moment is the identity.
  Generator rng(5);
  const int64_t n = 40, c = 3, h = 9, w = 9;
  Tensor images = Tensor::empty({n, c, h, w}, DType::kF64, cpu_context().allocator());
  double* px = images.data_as<double>();
  for (int64_t i = 0; i < n * h * w; ++i) {
    const double base = rng.normal();
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t img = i / (h * w), pix = i % (h * w);
      px[(img * c + ch) * h * w + pix] = base + 0.3 * rng.normal() * (ch + 1);
    }
  }
  Tensor weight = Tensor::empty({24, c, 2, 2}, DType::kF64, cpu_context().allocator());
  init::whitening(weight, images, 0.0);
  const int64_t e = 12;
  const double* wt = weight.data_as<double>();
  std::vector<double> moment(e * e, 0.0);
  int64_t count = 0;
  for (int64_t img = 0; img < n; ++img)
    for (int64_t y = 0; y + 1 < h; ++y)
      for (int64_t x = 0; x + 1 < w; ++x, ++count) {
        std::vector<double> out(e, 0.0);
        for (int64_t f = 0; f < e; ++f)
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t dy = 0; dy < 2; ++dy)
              for (int64_t dx = 0; dx < 2; ++dx)
                out[f] += wt[f * e + (ch * 2 + dy) * 2 + dx] * px[((img * c + ch) * h + y + dy) * w + x + dx];
        for (int64_t i = 0; i < e; ++i)
          for (int64_t j = 0; j < e; ++j) moment[i * e + j] += out[i] * out[j];
      }
  for (int64_t i = 0; i < e; ++i)
    for (int64_t j = 0; j < e; ++j) EXPECT_NEAR(moment[i * e + j] / count, i == j ? 1.0 : 0.0, 1e-6);
  for (int64_t i = 0; i < e * e; ++i) EXPECT_EQ(wt[e * e + i], -wt[i]);  // the negated copies
}

TEST(Init, DiracSetsTheFirstFiltersToIdentityKernels) {
  Tensor w = Tensor::empty({3, 2, 3, 3}, DType::kF32, cpu_context().allocator());
  init::constant(w, 7.0);
  init::dirac_first_filters(w);
  const std::vector<float> v = w.to_vector<float>();
  for (int64_t f = 0; f < 2; ++f)
    for (int64_t i = 0; i < 18; ++i) EXPECT_EQ(v[f * 18 + i], i == f * 9 + 4 ? 1.f : 0.f);
  for (int64_t i = 36; i < 54; ++i) EXPECT_EQ(v[i], 7.f);  // filter 2 (>= C) keeps its values
}

}  // namespace
}  // namespace sprint::nn
