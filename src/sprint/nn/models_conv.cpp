// models_conv.cpp: convolutional models of the zoo. cnn: two conv(3x3, fused ReLU) + max-pool blocks, then two
// linear layers (seed 000's CNN). resnet10/resnet18: the CIFAR variant of ResNet (3x3 stem, no initial pooling),
// BasicBlocks in four stages of widths 64-128-256-512, global average pooling, linear classifier;
// resnet18-imagenet: torchvision's stem (7x7 stride-2 conv, 3x3 stride-2 max-pool) instead. Weight sharing ties
// layer1.0.conv2's weight to layer1.0.conv1's (both 64 -> 64, 3x3).
#include "sprint/nn/models_conv.h"

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/residual.h"

namespace sprint::nn {
namespace {

std::shared_ptr<Sequential> make_cnn(const Shape& s, int64_t classes, Generator& rng, DType dtype) {
  const int64_t c = s[0], h = s[1], w = s[2];
  SPRINT_CHECK(h % 4 == 0 && w % 4 == 0 && h >= 8 && w >= 8, "cnn needs H and W divisible by 4, got {}x{}", h, w);
  // Layer names as the PyTorch twin's attributes (bench/peers/pytorch_train.py Cnn: c1, c2, f1, f2).
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(
               ConvOptions(c, 32, 3).with_padding(1).with_activation(Activation::kReLU).with_dtype(dtype), rng),
           "c1");
  net->emplace<MaxPool2d>(2);
  net->add(std::make_shared<Conv2d>(
               ConvOptions(32, 64, 3).with_padding(1).with_activation(Activation::kReLU).with_dtype(dtype), rng),
           "c2");
  net->emplace<MaxPool2d>(2);
  net->emplace<Flatten>();
  net->add(std::make_shared<Linear>(
               LinearOptions(64 * (h / 4) * (w / 4), 128).with_activation(Activation::kReLU).with_dtype(dtype), rng),
           "f1");
  net->add(std::make_shared<Linear>(LinearOptions(128, classes).with_dtype(dtype), rng), "f2");
  return net;
}

Conv2d& child_conv(Module& parent, std::string_view name) {
  for (auto& [child_name, child] : parent.children())
    if (child_name == name)
      if (auto* conv = dynamic_cast<Conv2d*>(child)) return *conv;
  SPRINT_THROW(InternalError, "{} has no convolution named {}", parent.describe(), name);
}

// kCifar: 3x3 stride-1 conv, no pooling (32x32 into stage 1). kCifarPooled: the same conv, then torchvision's 3x3
// stride-2 max-pool (16x16 into stage 1; FISH's CIFAR ResNet-34). kImageNet: torchvision's 7x7 stride-2 conv and
// max-pool.
enum class ResNetStem { kCifar, kCifarPooled, kImageNet };

struct ResNetSpec {
  std::vector<int> blocks;
  ResNetStem stem = ResNetStem::kCifar;
  bool share_weights = false;
};

// Module paths as torchvision's ResNet (conv1, bn1, layer1.0.conv1, layer2.0.downsample.0, fc, ...), so that
// state_dict names match.
std::shared_ptr<Sequential> make_resnet(const ResNetSpec& spec, const Shape& s, int64_t classes, Generator& rng,
                                        DType dtype) {
  auto net = std::make_shared<Sequential>();
  switch (spec.stem) {
    case ResNetStem::kCifar:  // (N, C, H, W) -> (N, 64, H, W)
    case ResNetStem::kCifarPooled:
      net->add(std::make_shared<Conv2d>(ConvOptions(s[0], 64, 3).with_padding(1).with_bias(false).with_dtype(dtype),
                                        rng),
               "conv1");
      break;
    case ResNetStem::kImageNet:  // (N, C, H, W) -> (N, 64, H/2, W/2); the max-pool halves it again
      net->add(std::make_shared<Conv2d>(
                   ConvOptions(s[0], 64, 7).with_stride(2).with_padding(3).with_bias(false).with_dtype(dtype), rng),
               "conv1");
      break;
  }
  net->add(std::make_shared<BatchNorm2d>(BatchNormOptions(64).with_dtype(dtype)), "bn1");
  net->add(std::make_shared<ReLU>(), "relu");
  if (spec.stem == ResNetStem::kImageNet || spec.stem == ResNetStem::kCifarPooled)
    net->add(std::make_shared<MaxPool2d>(PoolOptions(3).with_stride(2).with_padding(1)), "maxpool");
  const std::vector<int>& blocks = spec.blocks;
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    auto layer = std::make_shared<Sequential>();
    for (int b = 0; b < blocks[static_cast<size_t>(stage)]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layer->emplace<ResidualBlock>(ResidualBlockOptions(in, widths[stage]).with_stride(stride).with_dtype(dtype), rng);
      in = widths[stage];
    }
    if (stage == 0 && spec.share_weights) {
      Module& block = *layer->children().front().second;
      child_conv(block, "conv2").share_weight(child_conv(block, "conv1"));
    }
    net->add(layer, fmt::format("layer{}", stage + 1));
  }
  net->add(std::make_shared<GlobalAvgPool2d>(), "avgpool");
  net->add(std::make_shared<Linear>(LinearOptions(512, classes).with_dtype(dtype), rng), "fc");
  return net;
}

}  // namespace

std::shared_ptr<Sequential> build_conv_model(std::string_view name, const Shape& s, int64_t classes, Generator& rng,
                                             const ModelOptions& o) {
  SPRINT_CHECK(s.size() == 3, "model {} needs image samples (C, H, W), got {}", name, s.to_string());
  SPRINT_CHECK(o.hidden.empty(), "model {} has no configurable hidden widths (--hidden)", name);
  if (name == "cnn") return make_cnn(s, classes, rng, o.dtype);
  SPRINT_CHECK(s[1] >= 8 && s[2] >= 8, "model {} needs inputs of at least 8x8, got {}", name, s.to_string());
  if (name == "resnet10") return make_resnet({{1, 1, 1, 1}, ResNetStem::kCifar, o.share_weights}, s, classes, rng, o.dtype);
  if (name == "resnet18") return make_resnet({{2, 2, 2, 2}, ResNetStem::kCifar, o.share_weights}, s, classes, rng, o.dtype);
  if (name == "resnet34") return make_resnet({{3, 4, 6, 3}, ResNetStem::kCifarPooled, false}, s, classes, rng, o.dtype);
  if (name == "resnet18-imagenet")
    return make_resnet({{2, 2, 2, 2}, ResNetStem::kImageNet, o.share_weights}, s, classes, rng, o.dtype);
  SPRINT_THROW(InvalidArgument, "unknown convolutional model '{}'", name);
}

}  // namespace sprint::nn
