// models.cpp: builders for the model zoo (mlp, mlp2, fc; convolutional models in models_conv.cpp).
#include "sprint/nn/models.h"

#include "sprint/nn/activation.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/log_softmax.h"
#include "sprint/nn/models_cifar.h"
#include "sprint/nn/models_conv.h"

namespace sprint::nn {
namespace {

int64_t flat_features(const Shape& sample_shape) { return sample_shape.product(); }

std::vector<int64_t> widths_or(const ModelOptions& o, std::vector<int64_t> defaults, size_t expected,
                               std::string_view model) {
  if (o.hidden.empty()) return defaults;
  SPRINT_CHECK(expected == 0 || o.hidden.size() == expected, "model {} takes {} hidden widths, got {}", model,
               expected, o.hidden.size());
  for (int64_t w : o.hidden) SPRINT_CHECK(w > 0, "hidden widths must be positive, got {}", w);
  return o.hidden;
}

// Flatten -> [Linear -> ReLU]* -> Linear, ReLU fused into the Linear epilogue.
std::shared_ptr<Sequential> make_mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes, Generator& rng,
                                     DType dtype) {
  // The linear layers are fc1, fc2, ... as in the PyTorch twins (bench/peers/pytorch_train.py Mlp and Fc), so that
  // checkpoints carry the same state_dict names.
  auto net = std::make_shared<Sequential>();
  net->emplace<Flatten>();
  int64_t width = in, index = 1;
  for (int64_t h : hidden) {
    net->add(std::make_shared<Linear>(LinearOptions(width, h).with_activation(Activation::kReLU).with_dtype(dtype), rng),
             fmt::format("fc{}", index++));
    width = h;
  }
  net->add(std::make_shared<Linear>(LinearOptions(width, classes).with_dtype(dtype), rng), fmt::format("fc{}", index));
  return net;
}

}  // namespace

const std::vector<ModelInfo>& model_catalog() {
  static const std::vector<ModelInfo> catalog = {
      {"mlp", "784-128-10 MLP, ReLU, LogSoftmax + NLL loss (seed 003); input width follows the data set"},
      {"mlp2", "MLP with two hidden layers (default 128, 64), cross-entropy (seed 000)"},
      {"fc", "fully connected net for CIFAR-10: 3072-512-256-10, cross-entropy (seed 000)"},
      {"cnn", "small CNN: conv3x3 32 - pool - conv3x3 64 - pool - fc 128 - fc K, for 28x28 and 32x32 inputs"},
      {"resnet10", "ResNet-10 (BasicBlock x [1,1,1,1], widths 64-512) for 32x32 inputs (seed 001)"},
      {"resnet18", "ResNet-18 (BasicBlock x [2,2,2,2], widths 64-512), CIFAR variant (seed 002)"},
      {"resnet34", "FISH's CIFAR ResNet-34 (3x3 stem, max-pool kept, BasicBlock x [3,4,6,3]) for 32x32 (seed 004)"},
      {"resnet18-imagenet", "torchvision's ResNet-18 exactly (7x7 stride-2 stem, max-pool), for its weights (seed 002)"},
      {"resnet9", "cifar10-fast's ResNet-9 (prep 64, layers 128/256/512, two residual blocks) for 32x32 (seed 004)"},
      {"vgg16", "VGG-16 with BatchNorm (13 conv 3x3, 5 max-pools, linear 512-K) for 32x32"},
      {"airbench94", "airbench94's net: 2x2 whitening conv, GELU, conv groups 64/256/256, x 1/9 output (32x32)"},
  };
  return catalog;
}

bool has_convolutions(std::string_view name) {
  return name == "cnn" || name.starts_with("resnet") || name == "vgg16" || name == "airbench94";
}

Model build_model(std::string_view name, const Shape& sample_shape, int64_t num_classes, Generator& rng,
                  const ModelOptions& o) {
  SPRINT_CHECK(num_classes >= 2, "a classifier needs at least 2 classes, got {}", num_classes);
  SPRINT_CHECK(!sample_shape.empty(), "empty sample shape");
  Model m;
  m.name = std::string(name);
  const int64_t in = flat_features(sample_shape);
  SPRINT_CHECK(o.hidden.empty() || name == "mlp" || name == "mlp2" || name == "fc",
               "--hidden sets the widths of mlp, mlp2 and fc; {} has a fixed architecture", name);
  SPRINT_CHECK(!o.share_weights || name == "resnet10" || name == "resnet18" || name == "resnet18-imagenet",
               "weight sharing (--share-weights) is for resnet10, resnet18 and resnet18-imagenet, not {}", name);
  if (auto cifar = build_cifar_model(name, sample_shape, num_classes, rng, o)) return std::move(*cifar);
  if (name == "mlp") {
    SPRINT_CHECK(o.label_smoothing == 0.0,
                 "mlp is trained with LogSoftmax + NLL loss, which has no label smoothing (--label-smoothing {}): use "
                 "mlp2 or fc for cross-entropy with smoothing", o.label_smoothing);
    m.net = make_mlp(in, widths_or(o, {128}, 1, name), num_classes, rng, o.dtype);
    m.net->emplace<LogSoftmax>();
    m.loss = std::make_unique<NllLoss>();
    return m;
  }
  if (name == "mlp2") {
    m.net = make_mlp(in, widths_or(o, {128, 64}, 2, name), num_classes, rng, o.dtype);
  } else if (name == "fc") {
    m.net = make_mlp(in, widths_or(o, {512, 256}, 2, name), num_classes, rng, o.dtype);
  } else if (name == "cnn" || name == "resnet10" || name == "resnet18" || name == "resnet34" ||
             name == "resnet18-imagenet") {
    m.net = build_conv_model(name, sample_shape, num_classes, rng, o);
  } else {
    std::string known;
    for (const ModelInfo& info : model_catalog()) known += (known.empty() ? "" : ", ") + info.name;
    SPRINT_THROW(InvalidArgument, "unknown model '{}' (known: {})", name, known);
  }
  m.loss = std::make_unique<CrossEntropyLoss>(o.label_smoothing, o.loss_reduction);
  return m;
}

}  // namespace sprint::nn
