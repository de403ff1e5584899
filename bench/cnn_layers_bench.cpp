// cnn_layers_bench.cpp: times the `cnn` model on the CPU, the C++ side of bench/cnn_pytorch_reference.py:
// conv3x3(1->32, pad 1)-ReLU-maxpool2 -> conv3x3(32->64, pad 1)-ReLU-maxpool2 -> flatten ->
// Linear(3136->128)-ReLU
// -> Linear(128->10), cross-entropy, SGD(lr 0.01, momentum 0.9), batch 64. Prints one JSON object: median ms
// of the conv stack's forward+backward, of a full training step, and (--epoch) one FashionMNIST epoch in
// seconds. Usage: sprint_bench_cnn_layers [--threads 1] [--steps 60] [--format nchw|nhwc] [--unfused]
// [--epoch]
//                                [--profile] [--data /usr/share/datasets/fashion-mnist]
// --profile adds median forward / backward ms per layer (the layers run one by one, as Sequential does).
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sprint/nn/activation.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/nn/pool.h"
#include "sprint/nn/sequential.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"

namespace {
using namespace sprint;
using Clock = std::chrono::steady_clock;

struct Args {
  int threads = 1, steps = 60;
  bool nhwc = false, fused = true, epoch = false, profile = false;
  std::string data = "/usr/share/datasets/fashion-mnist";
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) throw InvalidArgument("missing value for " + k);
      return std::string(argv[++i]);
    };
    if (k == "--threads")
      a.threads = std::stoi(value());
    else if (k == "--steps")
      a.steps = std::stoi(value());
    else if (k == "--format")
      a.nhwc = value() == "nhwc";
    else if (k == "--unfused")
      a.fused = false;
    else if (k == "--epoch")
      a.epoch = true;
    else if (k == "--profile")
      a.profile = true;
    else if (k == "--data")
      a.data = value();
    else
      throw InvalidArgument("unknown option " + k);
  }
  return a;
}

// Gzipped IDX file (big-endian header) -> raw bytes after the header; empty when the file is missing.
std::vector<uint8_t> read_idx_gz(const std::string& path, std::vector<int64_t>& dims) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return {};
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) bytes.insert(bytes.end(), buf, buf + n);
  gzclose(f);
  const int ndim = bytes.at(3);
  dims.clear();
  for (int i = 0; i < ndim; ++i) {
    const uint8_t* p = &bytes[4 + 4 * static_cast<size_t>(i)];
    dims.push_back((int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3]);
  }
  bytes.erase(bytes.begin(), bytes.begin() + 4 + 4 * ndim);
  return bytes;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  cpu_context().set_num_threads(args.threads);
  const Stream s = cpu_context().compute_stream();
  const MemoryFormat format = args.nhwc ? MemoryFormat::kChannelsLast : MemoryFormat::kContiguous;
  const Activation fused = args.fused ? Activation::kReLU : Activation::kNone;
  constexpr int64_t kBatch = 64;

  // Data: FashionMNIST normalised like the PyTorch script, or random images when the files are missing.
  std::vector<int64_t> dims;
  std::vector<uint8_t> pixels = read_idx_gz(args.data + "/train-images-idx3-ubyte.gz", dims);
  std::vector<uint8_t> label_bytes = read_idx_gz(args.data + "/train-labels-idx1-ubyte.gz", dims);
  const bool real = !pixels.empty() && !label_bytes.empty();
  const int64_t n_images = real ? static_cast<int64_t>(label_bytes.size()) : 60000;
  std::vector<float> images(static_cast<size_t>(n_images) * 784);
  Generator rng(0);
  for (size_t i = 0; i < images.size(); ++i)
    images[i] = ((real ? pixels[i] / 255.0f : rng.uniform()) - 0.2860f) / 0.3530f;
  std::vector<int32_t> labels(static_cast<size_t>(n_images));
  for (size_t i = 0; i < labels.size(); ++i)
    labels[i] = real ? label_bytes[i] : static_cast<int32_t>(rng.below(10));

  // The model; with --unfused the ReLUs are separate layers as in PyTorch.
  auto conv_stack = std::make_shared<nn::Sequential>();
  conv_stack->emplace<nn::Conv2d>(nn::ConvOptions(1, 32, 3).with_padding(1).with_activation(fused), rng);
  if (!args.fused) conv_stack->emplace<nn::ReLU>();
  conv_stack->emplace<nn::MaxPool2d>(2);
  conv_stack->emplace<nn::Conv2d>(nn::ConvOptions(32, 64, 3).with_padding(1).with_activation(fused), rng);
  if (!args.fused) conv_stack->emplace<nn::ReLU>();
  conv_stack->emplace<nn::MaxPool2d>(2);
  nn::Sequential net;  // the first layer skips its input gradient (x needs none), as in PyTorch
  net.add(conv_stack, "features");
  net.emplace<nn::Flatten>();
  net.emplace<nn::Linear>(nn::LinearOptions(64 * 7 * 7, 128).with_activation(Activation::kReLU), rng);
  net.emplace<nn::Linear>(nn::LinearOptions(128, 10), rng);
  net.set_needs_input_grad(false);
  nn::CrossEntropyLoss loss;
  optim::SGD sgd(optim::single_group(net), optim::SGDOptions(0.01).with_momentum(0.9));
  nn::RunContext ctx{s, &rng};

  // Batches are gathered into fixed buffers (the epoch also times this gather, as PyTorch's indexing).
  Tensor x = Tensor::empty({kBatch, 1, 28, 28}, DType::kF32, cpu_allocator(), format);
  Tensor y = Tensor::empty({kBatch}, DType::kI32);
  auto gather = [&](const int32_t* index, int64_t count) {
    Tensor xb = count == kBatch ? x : x.rows(0, count), yb = count == kBatch ? y : y.rows(0, count);
    for (int64_t i = 0; i < count; ++i) {  // C = 1: NCHW and NHWC hold the same bytes
      std::memcpy(xb.data_as<float>() + i * 784, &images[static_cast<size_t>(index[i]) * 784],
                  784 * sizeof(float));
      yb.data_as<int32_t>()[i] = labels[static_cast<size_t>(index[i])];
    }
    return std::pair{xb, yb};
  };
  auto train_step = [&](const Tensor& xb, const Tensor& yb) {
    sgd.zero_grad();
    const Tensor l = loss.forward(ctx, net.forward(ctx, xb), yb);
    net.backward(ctx, loss.backward(ctx));
    sgd.step(s);
    return l;
  };

  std::vector<int32_t> order(static_cast<size_t>(n_images));
  std::iota(order.begin(), order.end(), 0);
  auto [x0, y0] = gather(order.data(), kBatch);
  // Conv stack alone: forward + backward with a fixed upstream gradient.
  const Tensor g = ops::full(s, conv_stack->output_shape(x0.shape()), DType::kF32, 0.01, format);
  std::vector<double> conv_ms, step_ms;
  for (int i = 0; i < args.steps + 5; ++i) {
    for (auto& p : conv_stack->parameters()) p->zero_grad();
    const auto t0 = Clock::now();
    conv_stack->forward(ctx, x0);
    conv_stack->backward(ctx, g);
    if (i >= 5) conv_ms.push_back(ms_since(t0));
  }
  for (int i = 0; i < args.steps + 5; ++i) {
    auto [xb, yb] = gather(order.data() + (i * kBatch) % (n_images - kBatch), kBatch);
    const auto t0 = Clock::now();
    train_step(xb, yb);
    if (i >= 5) step_ms.push_back(ms_since(t0));
  }
  nlohmann::json out{{"impl", "sprint"},
                     {"threads", args.threads},
                     {"batch", kBatch},
                     {"format", args.nhwc ? "nhwc" : "nchw"},
                     {"fused_relu", args.fused},
                     {"conv_stack_fwd_bwd_ms", median(conv_ms)},
                     {"train_step_ms", median(step_ms)},
                     {"data", real ? "fashion-mnist" : "random"}};
  if (args.profile) {
    std::vector<std::pair<std::string, nn::Module*>> layers;
    for (auto& [name, m] : conv_stack->children()) layers.emplace_back("features." + name, m);
    for (auto& [name, m] : net.children())
      if (m != conv_stack.get()) layers.emplace_back(name, m);
    std::vector<std::vector<double>> fwd(layers.size()), bwd(layers.size());
    std::vector<double> loss_ms, optimizer_ms;
    for (int i = 0; i < args.steps + 5; ++i) {
      sgd.zero_grad();
      Tensor h = x0;
      for (size_t j = 0; j < layers.size(); ++j) {
        const auto t0 = Clock::now();
        h = layers[j].second->forward(ctx, h);
        if (i >= 5) fwd[j].push_back(ms_since(t0));
      }
      auto t_loss = Clock::now();
      loss.forward(ctx, h, y0);
      Tensor d = loss.backward(ctx);
      if (i >= 5) loss_ms.push_back(ms_since(t_loss));
      for (size_t j = layers.size(); j-- > 0;) {
        const auto t0 = Clock::now();
        d = layers[j].second->backward(ctx, d);
        if (i >= 5) bwd[j].push_back(ms_since(t0));
      }
      const auto t_opt = Clock::now();
      sgd.step(s);
      if (i >= 5) optimizer_ms.push_back(ms_since(t_opt));
    }
    nlohmann::json per_layer = nlohmann::json::array();
    for (size_t j = 0; j < layers.size(); ++j)
      per_layer.push_back({{"layer", layers[j].first + " " + layers[j].second->describe()},
                           {"fwd_ms", median(fwd[j])},
                           {"bwd_ms", median(bwd[j])}});
    out["layers"] = per_layer;
    out["loss_fwd_bwd_ms"] = median(loss_ms);
    out["optimizer_step_ms"] = median(optimizer_ms);
  }
  if (args.epoch) {
    rng.shuffle(order);
    double loss_sum = 0.0;
    const auto t0 = Clock::now();
    for (int64_t start = 0; start < n_images; start += kBatch) {
      const int64_t count = std::min(kBatch, n_images - start);
      auto [xb, yb] = gather(order.data() + start, count);
      loss_sum += train_step(xb, yb).to_vector<float>()[0] * static_cast<double>(count);
    }
    out["epoch_s"] = ms_since(t0) / 1000.0;
    out["epoch_mean_loss"] = loss_sum / static_cast<double>(n_images);
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cnn_layers_bench: %s\n", e.what());
  return 1;
}
