// conv_layers_bench.cpp: times the CPU 3x3 stride-1 convolutions of resnet18 (CIFAR, nChw8c activations,
// blocked weights), and narrower ones (16 and 32 channels at 32x32; cnn's conv2, 32 -> 64 at 14x14), forward,
// backward-data and backward-weight, with oneDNN's direct kernels (Winograd off) and sprint's Winograd F(4x4,
// 3x3) kernels (on): the data behind conv.cpp's dispatch rule. Prints one JSON line per layer: median ms per
// pass and path. Usage: sprint_bench_conv_layers [--threads 2] [--reps 7] [--batch 64] [--channels C (layers
// with C inputs)]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sprint/backend/cpu/winograd_conv.h"
#include "sprint/ops/conv.h"
#include "sprint/runtime/device_registry.h"

namespace {
using namespace sprint;
using Clock = std::chrono::steady_clock;

struct Layer {
  int64_t c, k, hw;
};

Tensor random_blocked(const Shape& shape, MemoryFormat format, std::mt19937& rng) {
  Tensor t = Tensor::empty(shape, DType::kF32, cpu_allocator(), format);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  float* p = t.data_as<float>();
  for (int64_t i = 0; i < t.storage_numel(); ++i) p[i] = dist(rng);
  return t;
}

template <class F>
double median_ms(int reps, F&& f) {
  f();  // warm-up (primitive creation, scratch growth)
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, reps = 7;
  int64_t batch = 64, only_c = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (k == "--reps")
      reps = std::stoi(argv[i + 1]);
    else if (k == "--batch")
      batch = std::stoll(argv[i + 1]);
    else if (k == "--channels")
      only_c = std::stoll(argv[i + 1]);
  }
  cpu_context().set_num_threads(threads);
  const Stream s = cpu_context().compute_stream();
  std::mt19937 rng(1);
  const Conv2dParams params{.padding = 1};
  const std::vector<Layer> layers{{64, 64, 32}, {128, 128, 16}, {256, 256, 8}, {512, 512, 4},
                                  {16, 16, 32}, {32, 32, 32},   {32, 64, 14}};
  for (const Layer& l : layers) {
    if (only_c != 0 && l.c != only_c) continue;
    const MemoryFormat af = MemoryFormat::kChannelsBlocked8, wf = MemoryFormat::kWeightsBlocked8;
    const Tensor x = random_blocked({batch, l.c, l.hw, l.hw}, af, rng);
    const Tensor w = random_blocked({l.k, l.c, 3, 3}, wf, rng);
    const Tensor b = random_blocked({l.k}, MemoryFormat::kContiguous, rng);
    const Tensor dy = random_blocked({batch, l.k, l.hw, l.hw}, af, rng);
    Tensor y = Tensor::empty(dy.shape(), DType::kF32, cpu_allocator(), af);
    Tensor dx = Tensor::empty(x.shape(), DType::kF32, cpu_allocator(), af);
    Tensor dw = Tensor::empty(w.shape(), DType::kF32, cpu_allocator(), wf);
    nlohmann::json row{{"c", l.c}, {"k", l.k}, {"hw", l.hw}};
    for (const auto& [name, mode] :
         {std::pair{"onednn", cpu::WinogradMode::kOff}, std::pair{"winograd", cpu::WinogradMode::kOn}}) {
      cpu::set_winograd_mode(mode);
      row[name]["forward_ms"] = median_ms(reps, [&] {
        ops::conv2d_forward(
            s, {.x = x, .w = w, .b = b, .y = y, .params = params, .activation = Activation::kReLU});
      });
      row[name]["backward_data_ms"] = median_ms(
          reps, [&] { ops::conv2d_backward_data(s, {.dy = dy, .w = w, .dx = dx, .params = params}); });
      row[name]["backward_weight_ms"] = median_ms(reps, [&] {
        ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = kNoTensor, .params = params});
      });
    }
    cpu::set_winograd_mode(cpu::WinogradMode::kAuto);
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
