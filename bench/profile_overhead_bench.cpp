// profile_overhead_bench.cpp: what the step profiler costs. Times training steps (forward, loss, backward,
// SGD with momentum) of a zoo model on synthetic inputs, alternating blocks with the profiler off (null
// observer, as every unprofiled step) and on (every step profiled: regions as the Trainer opens them, every
// layer through the observer), and prints one JSON line with both medians and their ratio. Usage:
// sprint_bench_profile_overhead [--model cnn] [--shape 1x28x28] [--classes 10] [--batch 64]
//                                      [--threads 1] [--steps 20] [--warmup 3] [--device cpu|cuda]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_options.h"

#include "sprint/core/rng.h"
#include "sprint/nn/models.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/profile/profiler.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/layouts.h"

namespace {
using namespace sprint;

struct Args {
  std::string model = "cnn", shape = "1x28x28", device = "cpu";
  int64_t classes = 10, batch = 64, steps = 20, warmup = 3;
  int threads = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  sprint::bench::parse_options(argc, argv, [&](const std::string& k, const std::string& v) {
    if (k == "--model")
      a.model = v;
    else if (k == "--shape")
      a.shape = v;
    else if (k == "--device")
      a.device = v;
    else if (k == "--classes")
      a.classes = std::stoll(v);
    else if (k == "--batch")
      a.batch = std::stoll(v);
    else if (k == "--steps")
      a.steps = std::stoll(v);
    else if (k == "--warmup")
      a.warmup = std::stoll(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else
      return false;
    return true;
  });
  if (a.batch < 1 || a.steps < 1 || a.warmup < 0 || a.threads < 1)
    throw InvalidArgument("--batch, --steps and --threads must be >= 1, --warmup >= 0");
  return a;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    cpu_context().set_num_threads(a.threads);
    const Device device = parse_device(a.device);
    const Stream stream = device_context(device).compute_stream();
    const Shape sample = bench::parse_shape(a.shape);
    const bool image = sample.size() == 3;
    const train::Layouts layouts =
        train::choose_layouts("auto", image && nn::has_convolutions(a.model), stream);
    Generator rng(0);
    nn::Model model = nn::build_model(a.model, sample, a.classes, rng);
    model.net->to_device(stream);
    model.net->set_needs_input_grad(false);  // as the Trainer: no gradient for the input batch
    optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(0.01).with_momentum(0.9));

    std::vector<int64_t> dims{a.batch};
    for (int i = 0; i < sample.size(); ++i) dims.push_back(sample[i]);
    const Shape input_shape(dims.begin(), dims.end());
    Tensor logical = Tensor::empty(input_shape, DType::kF32);
    for (int64_t i = 0; i < logical.numel(); ++i)
      logical.data_as<float>()[i] = static_cast<float>(rng.normal());
    Tensor x = Tensor::empty(input_shape, DType::kF32, stream.context().allocator(),
                             image ? layouts.input : MemoryFormat::kContiguous);
    ops::copy(stream, ops::to_stream_device(stream, logical), x);
    std::vector<int32_t> labels(static_cast<size_t>(a.batch));
    for (int64_t i = 0; i < a.batch; ++i)
      labels[static_cast<size_t>(i)] = static_cast<int32_t>(i % a.classes);
    const Tensor y = ops::to_stream_device(stream, Tensor::from_values(labels, {a.batch}));

    // Every "on" step is profiled (no warm-up inside the profiler: the bench's own warm-up runs first).
    profile::Profiler profiler(stream, {.warmup_steps = 0, .steps = a.steps});
    nn::BufferPool gradients;
    nn::RunContext ctx{stream, &rng, nn::BufferKey::micro_batch(0), layouts.activations, &gradients};
    model.net->train();
    const auto run_step = [&](profile::Profiler* p) {
      const auto t0 = std::chrono::steady_clock::now();
      ctx.observer = p != nullptr ? p->begin_step() : nullptr;
      sgd.zero_grad();
      Tensor logits, dlogits;
      {
        const profile::ProfileRegion region(p, "model", profile::Category::kForward);
        logits = model.net->forward(ctx, x);
      }
      {
        const profile::ProfileRegion region(p, "loss", profile::Category::kLoss);
        (void)model.loss->forward(ctx, logits, y);
        dlogits = model.loss->backward(ctx);
      }
      {
        const profile::ProfileRegion region(p, "model", profile::Category::kBackward);
        model.net->backward(ctx, dlogits);
      }
      {
        const profile::ProfileRegion region(p, "optimizer", profile::Category::kOptimizer);
        sgd.step(stream);
      }
      if (p != nullptr) p->end_step();
      stream.synchronize();
      return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    for (int64_t i = 0; i < a.warmup; ++i) (void)run_step(nullptr);
    // Alternate blocks of up to 5 steps so that a drift of the machine's speed reaches both sides alike.
    std::vector<double> off, on;
    while (static_cast<int64_t>(on.size()) < a.steps) {
      const int64_t block = std::min<int64_t>(5, a.steps - static_cast<int64_t>(on.size()));
      for (int64_t i = 0; i < block; ++i) off.push_back(run_step(nullptr));
      for (int64_t i = 0; i < block; ++i) on.push_back(run_step(&profiler));
    }
    nlohmann::ordered_json out;
    out["engine"] = "sprint";
    out["bench"] = "profile_overhead";
    out["model"] = a.model;
    out["shape"] = a.shape;
    out["batch"] = a.batch;
    out["threads"] = a.threads;
    out["device"] = device_name(device);
    out["steps"] = a.steps;
    out["median_step_ms_off"] = median(off);
    out["median_step_ms_on"] = median(on);
    out["overhead_ratio"] = median(on) / median(off);
    out["profiled_steps"] = profiler.data().n_steps();
    out["spans"] = profiler.data().spans.size();
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sprint_bench_profile_overhead: error: %s\n", e.what());
    return 1;
  }
}
