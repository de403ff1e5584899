// models_cifar.cpp: resnet9, vgg16 and airbench94. Parameter names follow the PyTorch twins in
// bench/peers/cifar_models.py (module paths such as "2.conv1.weight" for airbench94).
//   resnet9 (cifar10-fast): prep conv_bn 64; layer1 conv_bn 128 + pool + residual(conv_bn, conv_bn); layer2
//     conv_bn 256 + pool; layer3 conv_bn 512 + pool + residual; MaxPool 4, linear 512 -> K without bias, x
//     0.125. conv_bn = conv 3x3 (no bias) -> BN -> ReLU; 6,573,120 parameters for 10 classes.
//   vgg16: 13 x (conv 3x3 with bias -> BN -> ReLU) in widths 64,64 | 128,128 | 256 x3 | 512 x3 | 512 x3, a
//     max-pool after each group, linear 512 -> K; 14,728,266 parameters for 10 classes.
//   airbench94: whitening conv 2x2 (C -> 2·C·4, bias, weight frozen) -> GELU; three groups (conv 3x3 no bias
//   ->
//     maxpool 2 -> BN -> GELU -> conv -> BN -> GELU) of widths 64 / 256 / 256 (BN eps 1e-12, momentum 0.4,
//     scale frozen at 1), convs dirac-initialised on their first C_in filters; maxpool 3, linear 256 -> K
//     without bias, x 1/9. 1,972,792 parameters (frozen ones included). The whitening weight is set from data
//     (Model::init_from_data) and its bias freezes after 3 epochs (Model::on_epoch_start).
#include "sprint/nn/models_cifar.h"

#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/init.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/residual.h"

namespace sprint::nn {
namespace {

// conv 3x3 (no bias) -> BN -> ReLU, as cifar10-fast's conv_bn.
std::shared_ptr<Sequential> conv_bn(int64_t in, int64_t out, Generator& rng, DType dtype) {
  auto s = std::make_shared<Sequential>();
  s->add(std::make_shared<Conv2d>(ConvOptions(in, out, 3).with_padding(1).with_bias(false).with_dtype(dtype),
                                  rng),
         "conv");
  s->add(std::make_shared<BatchNorm2d>(BatchNormOptions(out).with_dtype(dtype)), "bn");
  s->add(std::make_shared<ReLU>(), "relu");
  return s;
}

std::shared_ptr<Sequential> resnet9_layer(int64_t in, int64_t out, bool residual, Generator& rng,
                                          DType dtype) {
  auto layer = conv_bn(in, out, rng, dtype);
  layer->add(std::make_shared<MaxPool2d>(2), "pool");
  if (residual) {
    auto body = std::make_shared<Sequential>();
    body->add(conv_bn(out, out, rng, dtype), "res1");
    body->add(conv_bn(out, out, rng, dtype), "res2");
    layer->add(std::make_shared<Residual>(body), "residual");
  }
  return layer;
}

std::shared_ptr<Sequential> make_resnet9(const Shape& s, int64_t classes, Generator& rng, DType dtype) {
  SPRINT_CHECK(s[1] == 32 && s[2] == 32, "resnet9 needs 32x32 inputs, got {}", s.to_string());
  auto net = std::make_shared<Sequential>();
  net->add(conv_bn(s[0], 64, rng, dtype), "prep");
  net->add(resnet9_layer(64, 128, true, rng, dtype), "layer1");
  net->add(resnet9_layer(128, 256, false, rng, dtype), "layer2");
  net->add(resnet9_layer(256, 512, true, rng, dtype), "layer3");
  net->add(std::make_shared<MaxPool2d>(4), "pool");
  net->add(std::make_shared<Flatten>(), "flatten");
  net->add(std::make_shared<Linear>(LinearOptions(512, classes).with_bias(false).with_dtype(dtype), rng),
           "linear");
  net->add(std::make_shared<Scale>(0.125), "logits");
  return net;
}

std::shared_ptr<Sequential> make_vgg16(const Shape& s, int64_t classes, Generator& rng, DType dtype) {
  SPRINT_CHECK(s[1] == 32 && s[2] == 32, "vgg16 needs 32x32 inputs, got {}", s.to_string());
  const int64_t groups[5][3] = {
      {64, 64, 0}, {128, 128, 0}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  auto features = std::make_shared<Sequential>();  // torchvision-style indices: features.0.weight, ...
  int64_t in = s[0];
  for (const auto& group : groups) {
    for (const int64_t width : group) {
      if (width == 0) continue;
      features->emplace<Conv2d>(ConvOptions(in, width, 3).with_padding(1).with_dtype(dtype), rng);
      features->emplace<BatchNorm2d>(BatchNormOptions(width).with_dtype(dtype));
      features->emplace<ReLU>();
      in = width;
    }
    features->emplace<MaxPool2d>(2);
  }
  auto net = std::make_shared<Sequential>();
  net->add(features, "features");
  net->add(std::make_shared<Flatten>(), "flatten");
  net->add(std::make_shared<Linear>(LinearOptions(512, classes).with_dtype(dtype), rng), "classifier");
  return net;
}

// airbench's Conv: 3x3 'same' without bias, default init, then dirac on the first C_in filters.
std::shared_ptr<Conv2d> dirac_conv(int64_t in, int64_t out, Generator& rng, DType dtype) {
  auto conv = std::make_shared<Conv2d>(
      ConvOptions(in, out, 3).with_padding(1).with_bias(false).with_dtype(dtype), rng);
  init::dirac_first_filters(conv->weight()->value());
  return conv;
}

std::shared_ptr<BatchNorm2d> airbench_norm(int64_t channels, DType dtype) {
  auto bn = std::make_shared<BatchNorm2d>(
      BatchNormOptions(channels).with_eps(1e-12).with_momentum(0.4).with_dtype(dtype));
  bn->weight()->set_trainable(
      false);  // scale fixed at 1, still a parameter (PyTorch's requires_grad = False)
  return bn;
}

std::shared_ptr<Sequential> airbench_group(int64_t in, int64_t out, Generator& rng, DType dtype) {
  auto g = std::make_shared<Sequential>();
  g->add(dirac_conv(in, out, rng, dtype), "conv1");
  g->add(std::make_shared<MaxPool2d>(2), "pool");
  g->add(airbench_norm(out, dtype), "norm1");
  g->add(std::make_shared<GELU>(), "activ1");
  g->add(dirac_conv(out, out, rng, dtype), "conv2");
  g->add(airbench_norm(out, dtype), "norm2");
  g->add(std::make_shared<GELU>(), "activ2");
  return g;
}

Model make_airbench94(const Shape& s, int64_t classes, Generator& rng, const ModelOptions& o) {
  SPRINT_CHECK(s[1] == 32 && s[2] == 32, "airbench94 needs 32x32 inputs, got {}", s.to_string());
  constexpr int64_t kWhitenKernel = 2, kEpochsWhitenBias = 3;
  const int64_t whiten_width = 2 * s[0] * kWhitenKernel * kWhitenKernel;
  auto whiten =
      std::make_shared<Conv2d>(ConvOptions(s[0], whiten_width, kWhitenKernel).with_dtype(o.dtype), rng);
  init::constant(whiten->bias()->value(), 0.0);
  whiten->weight()->set_trainable(false);
  Model m;
  m.name = "airbench94";
  m.net = std::make_shared<Sequential>();
  m.net->add(whiten);
  m.net->add(std::make_shared<GELU>());
  m.net->add(airbench_group(whiten_width, 64, rng, o.dtype));
  m.net->add(airbench_group(64, 256, rng, o.dtype));
  m.net->add(airbench_group(256, 256, rng, o.dtype));
  m.net->add(std::make_shared<MaxPool2d>(3));
  m.net->add(std::make_shared<Flatten>());
  m.net->add(std::make_shared<Linear>(LinearOptions(256, classes).with_bias(false).with_dtype(o.dtype), rng));
  m.net->add(std::make_shared<Scale>(1.0 / 9.0));
  m.loss = std::make_unique<CrossEntropyLoss>(o.label_smoothing, o.loss_reduction);
  m.init_samples = 5000;
  m.init_from_data = [whiten](const Tensor& images) {
    SPRINT_CHECK(whiten->weight()->value().device().is_cpu(),
                 "airbench94's whitening initialisation runs before the model moves to its device");
    init::whitening(whiten->weight()->value(), images);
  };
  m.on_epoch_start = [whiten](int64_t epoch) { whiten->bias()->set_trainable(epoch < kEpochsWhitenBias); };
  return m;
}

}  // namespace

std::optional<Model> build_cifar_model(std::string_view name, const Shape& s, int64_t classes, Generator& rng,
                                       const ModelOptions& o) {
  if (name != "resnet9" && name != "vgg16" && name != "airbench94") return std::nullopt;
  SPRINT_CHECK(s.size() == 3, "model {} needs image samples (C, H, W), got {}", name, s.to_string());
  SPRINT_CHECK(o.hidden.empty(), "model {} has no configurable hidden widths (--hidden)", name);
  if (name == "airbench94") return make_airbench94(s, classes, rng, o);
  Model m;
  m.name = std::string(name);
  m.net = name == "resnet9" ? make_resnet9(s, classes, rng, o.dtype) : make_vgg16(s, classes, rng, o.dtype);
  m.loss = std::make_unique<CrossEntropyLoss>(o.label_smoothing, o.loss_reduction);
  return m;
}

}  // namespace sprint::nn
