// step_bench.cpp: median time of one training step (forward, loss, backward, SGD with momentum) of a model from
// the zoo on synthetic inputs of a data set's shape, and the process's peak memory. The PyTorch side is
// bench/peers/pytorch_step.py (same models, batch, optimizer, thread count). Prints one JSON object.
// Usage: sprint_bench_step [--model cnn] [--shape 1x28x28] [--classes 10] [--batch 64] [--threads 1]
//                          [--steps 20] [--warmup 3] [--format auto|nchw|nhwc|blocked]
//                          [--pool on|off] [--amp off|bf16|f16]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_machine.h"
#include "bench_options.h"

#include "sprint/core/rng.h"
#include "sprint/nn/mixed_precision.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/layouts.h"

namespace {
using namespace sprint;

struct Args {
  std::string model = "cnn", shape = "1x28x28", format = "auto";
  std::string amp = "off";  // mixed precision as sprint train --amp (f32 masters, half compute copies)
  bool pool = true;  // layer outputs and gradients from a shared BufferPool, as the Trainer
  int64_t classes = 10, batch = 64, steps = 20, warmup = 3;
  int threads = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  sprint::bench::parse_options(argc, argv, [&](const std::string& k, const std::string& v) {
    if (k == "--model") a.model = v;
    else if (k == "--shape") a.shape = v;
    else if (k == "--format") a.format = v;
    else if (k == "--pool") a.pool = v == "on";
    else if (k == "--amp") a.amp = v;
    else if (k == "--classes") a.classes = std::stoll(v);
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--steps") a.steps = std::stoll(v);
    else if (k == "--warmup") a.warmup = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else return false;
    return true;
  });
  if (a.amp != "off" && a.amp != "bf16" && a.amp != "f16") throw InvalidArgument("--amp off | bf16 | f16");
  if (a.batch < 1 || a.steps < 1 || a.warmup < 0 || a.threads < 1)
    throw InvalidArgument("--batch, --steps and --threads must be >= 1, --warmup >= 0");
  return a;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    cpu_context().set_num_threads(a.threads);
    const Shape sample = bench::parse_shape(a.shape);
    const bool image = sample.size() == 3;
    // As `sprint train --memory-format`: auto = the conv models' preferred layout from the first convolution on.
    const DType compute = a.amp == "bf16" ? DType::kBF16 : a.amp == "f16" ? DType::kF16 : DType::kF32;
    const train::Layouts layouts = train::choose_layouts(a.format, image && nn::has_convolutions(a.model),
                                                         cpu_context().compute_stream(), compute);
    const MemoryFormat format = layouts.input;
    const std::optional<MemoryFormat> activations = layouts.activations;
    Generator rng(0);
    nn::Model model = nn::build_model(a.model, sample, a.classes, rng);
    model.net->set_needs_input_grad(false);  // as the Trainer: no gradient for the input batch
    const Stream stream = cpu_context().compute_stream();
    if (a.amp != "off") {
      nn::use_mixed_precision(model, compute, stream);
      model.net->set_needs_input_grad(false);
    }
    optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(0.01).with_momentum(0.9));

    std::vector<int64_t> dims{a.batch};
    for (int i = 0; i < sample.size(); ++i) dims.push_back(sample[i]);
    const Shape input_shape(dims.begin(), dims.end());
    Tensor x = Tensor::empty(input_shape, DType::kF32, cpu_allocator(), image ? format : MemoryFormat::kContiguous);
    Tensor logical = Tensor::empty(input_shape, DType::kF32);
    float* xs = logical.data_as<float>();
    for (int64_t i = 0; i < logical.numel(); ++i) xs[i] = static_cast<float>(rng.normal());
    ops::copy(stream, logical, x);
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    for (int64_t i = 0; i < a.batch; ++i) labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % a.classes);
    const Tensor y = Tensor::from_values(labels, {a.batch});

    nn::BufferPool step_buffers;
    nn::RunContext ctx{stream, &rng, nn::BufferKey::micro_batch(0), activations, a.pool ? &step_buffers : nullptr};
    model.net->train();
    std::vector<double> ms;
    double last_loss = 0.0;
    for (int64_t step = 0; step < a.warmup + a.steps; ++step) {
      const auto t0 = std::chrono::steady_clock::now();
      sgd.zero_grad();
      const Tensor logits = model.net->forward(ctx, x);
      const Tensor loss = model.loss->forward(ctx, logits, y);
      model.net->backward(ctx, model.loss->backward(ctx));
      sgd.step(stream);
      stream.synchronize();
      const auto t1 = std::chrono::steady_clock::now();
      if (step >= a.warmup) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      if (step + 1 == a.warmup + a.steps) last_loss = loss.to_vector<double>()[0];
    }
    std::sort(ms.begin(), ms.end());
    nlohmann::ordered_json out;
    out["engine"] = "sprint";
    out["model"] = a.model;
    out["shape"] = a.shape;
    out["batch"] = a.batch;
    out["threads"] = a.threads;
    out["format"] = memory_format_name(activations.value_or(format));
    out["steps"] = a.steps;
    out["buffer_pool"] = a.pool;
    out["amp"] = a.amp;
    out["median_step_ms"] = ms[ms.size() / 2];
    out["min_step_ms"] = ms.front();
    out["last_loss"] = last_loss;
    out["peak_rss_mib"] = peak_rss_mib();
    out["peak_allocated_mib"] = static_cast<double>(cpu_allocator().stats().peak_allocated_bytes) / (1 << 20);
    out["pool_mib"] = static_cast<double>(step_buffers.bytes()) / (1 << 20);  // outputs and gradients, pooled
    out["pool_blocks"] = step_buffers.size();
    sprint::bench::add_machine_fields(out);
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sprint_bench_step: error: %s\n", e.what());
    return 1;
  }
}
