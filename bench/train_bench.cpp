// train_bench.cpp: end-to-end training benchmark. Trains a model from the zoo on a real data set for a number of
// epochs through the same Trainer as `sprint train` and prints one JSON object: per-epoch train seconds,
// samples/s, test accuracy, and the median epoch time. For the fully connected models on the CPU also the two
// numbers that bound an epoch: the GEMM work of one epoch (forward, weight gradient, and input gradient for every
// layer but the first) with the rate it implies, and the rate of a large single GEMM at the same thread count
// (1024^3 through the same GEMM), so that an epoch's time can be read against its floor.
// Usage: sprint_bench_train [--model mlp] [--dataset fashion-mnist] [--batch 64] [--threads 1] [--epochs 3]
//                           [--workers 1] [--lr 0.01] [--momentum 0.9] [--limit-train N] [--device cpu]
//                           [--data-dir DIR] [--resident on|off]
//                           [--gemm onednn|openblas|sprint] [--format auto|nchw|nhwc|blocked]
//                           [--tf32 on|off] [--deterministic on|off]     (cuda; both off by default, as the
//                           PyTorch peer's flags of the same names: the settings are printed with the result)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_machine.h"
#include "bench_options.h"

#include "sprint/backend/cpu/gemm.h"
#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "sprint/nn/models.h"
#include "sprint/ops/linear.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/layouts.h"
#include "sprint/train/trainer.h"

namespace {

struct Args {
  std::string model = "mlp", dataset = "fashion-mnist", device = "cpu", data_dir;
  int64_t batch = 64, epochs = 3, limit_train = 0;
  int threads = 1, workers = 1;
  bool resident = false;
  std::string gemm = "onednn";  // the CPU context's default
  std::string format = "auto";  // as sprint train --memory-format: auto | nchw | nhwc | blocked
  bool tf32 = false, deterministic = false;
  double lr = 0.01, momentum = 0.9;
};

Args parse(int argc, char** argv) {
  Args a;
  sprint::bench::parse_options(argc, argv, [&](const std::string& k, const std::string& v) {
    if (k == "--model") a.model = v;
    else if (k == "--dataset") a.dataset = v;
    else if (k == "--device") a.device = v;
    else if (k == "--data-dir") a.data_dir = v;
    else if (k == "--batch") a.batch = std::stoll(v);
    else if (k == "--epochs") a.epochs = std::stoll(v);
    else if (k == "--limit-train") a.limit_train = std::stoll(v);
    else if (k == "--threads") a.threads = std::stoi(v);
    else if (k == "--workers") a.workers = std::stoi(v);
    else if (k == "--lr") a.lr = std::stod(v);
    else if (k == "--momentum") a.momentum = std::stod(v);
    else if (k == "--gemm") a.gemm = v;
    else if (k == "--format") a.format = v;
    else if (k == "--resident") a.resident = (v == "on" || v == "1");
    else if (k == "--tf32" || k == "--deterministic") {
      if (v != "on" && v != "off") throw sprint::InvalidArgument(k + " takes on or off, got '" + v + "'");
      (k == "--tf32" ? a.tf32 : a.deterministic) = v == "on";
    }
    else return false;
    return true;
  });
  return a;
}

/// GFLOP of the matrix products in one training epoch over `samples` samples of a fully connected model: per
/// (out, in) weight, 2·samples·in·out for the forward pass and again for the weight gradient, and again for the
/// input gradient except in the first layer (the trainer computes no gradient for the data).
double epoch_gemm_gflop(sprint::nn::Module& net, int64_t samples) {
  double flop = 0.0;
  bool first = true;
  for (const auto& [name, p] : net.named_parameters()) {
    if (p->value().ndim() != 2) continue;
    const double per_pass = 2.0 * static_cast<double>(samples) * static_cast<double>(p->value().numel());
    flop += per_pass * (first ? 2.0 : 3.0);
    first = false;
  }
  return flop / 1e9;
}

/// GFLOP/s of a 1024^3 f32 GEMM through ops::linear_forward on the CPU (median of 5 after one warm-up call).
double cpu_gemm_peak_gflops() {
  using namespace sprint;
  const Stream s = cpu_context().compute_stream();
  const int64_t m = 1024;
  Generator rng(1);
  Tensor x = Tensor::empty({m, m}, DType::kF32), w = Tensor::empty({m, m}, DType::kF32);
  for (Tensor* t : {&x, &w})
    for (int64_t i = 0; i < m * m; ++i) t->data_as<float>()[i] = rng.normal();  // random values, never zeros
  Tensor y = Tensor::empty({m, m}, DType::kF32);
  std::vector<double> seconds;
  for (int r = 0; r < 6; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ops::linear_forward(s, {.x = x, .w = w, .b = kNoTensor, .y = y});
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    if (r > 0) seconds.push_back(dt.count());
  }
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * m * m * m / seconds[seconds.size() / 2] / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sprint;
  try {
    const Args a = parse(argc, argv);
    const Device device = parse_device(a.device);
    cpu_context().set_num_threads(a.threads);
    if (a.gemm == "onednn") cpu_context().set_gemm(CpuGemm::kOneDnn);
    else if (a.gemm == "openblas") cpu_context().set_gemm(CpuGemm::kOpenBlas);
    else if (a.gemm == "sprint") cpu_context().set_gemm(CpuGemm::kSprint);
    else throw InvalidArgument("--gemm must be onednn, openblas or sprint");
    const auto dir = data::resolve_data_dir(a.data_dir.empty() ? std::nullopt
                                                               : std::optional<std::filesystem::path>(a.data_dir));
    data::Dataset train_set = data::load_dataset(a.dataset, data::Split::kTrain, dir);
    const data::Dataset test_set = data::load_dataset(a.dataset, data::Split::kTest, dir);
    if (a.limit_train > 0) train_set = data::subset(train_set, 0, std::min(a.limit_train, train_set.size()));
    Generator rng(0);
    nn::Model model = nn::build_model(a.model, train_set.sample_shape(), train_set.num_classes, rng);
    device_context(device).set_numerics({.allow_tf32 = a.tf32, .deterministic = a.deterministic});
    const Stream stream = device_context(device).compute_stream();
    model.net->to_device(stream);
    optim::SGD sgd(optim::single_group(*model.net), optim::SGDOptions(a.lr).with_momentum(a.momentum));
    train::TrainerOptions o;
    o.batch_size = a.batch;
    o.num_workers = a.workers;
    o.device = device;
    o.resident_data = a.resident;
    const train::Layouts layouts = train::choose_layouts(a.format, nn::has_convolutions(a.model), stream);
    o.format = layouts.input;
    o.activation_format = layouts.activations;
    train::Trainer trainer(model, sgd, train_set, test_set, o);
    nlohmann::ordered_json out;
    out["engine"] = "sprint";
    out["model"] = a.model;
    out["dataset"] = a.dataset;
    out["device"] = device_name(device);
    out["threads"] = a.threads;
    out["batch"] = a.batch;
    out["resident_data"] = a.resident;
    out["cpu_gemm"] = a.gemm;
    out["cpu_gemm_used"] = [&] {
      switch (cpu::resolved_gemm(cpu_context().compute_stream())) {
        case CpuGemm::kOneDnn: return "onednn";
        case CpuGemm::kOpenBlas: return "openblas";
        case CpuGemm::kSprint: return "sprint";
      }
      return "?";
    }();
    out["format"] = memory_format_name(o.activation_format.value_or(o.format));
    if (device.is_cuda()) out["settings"] = {{"f32_math", a.tf32 ? "tf32" : "fma (no TF32)"}, {"deterministic", a.deterministic}};
    out["epochs"] = nlohmann::ordered_json::array();
    std::vector<double> seconds;
    for (int64_t e = 1; e <= a.epochs; ++e) {
      const train::EpochStats s = trainer.run_epoch(e, a.epochs);
      seconds.push_back(s.train_seconds);
      out["epochs"].push_back({{"epoch", e},
                               {"train_loss", s.train_loss},
                               {"test_accuracy", s.test.accuracy},
                               {"train_seconds", s.train_seconds},
                               {"samples_per_second", s.samples_per_second}});
    }
    std::sort(seconds.begin(), seconds.end());
    out["median_epoch_seconds"] = seconds[seconds.size() / 2];
    if (device.is_cpu() && !nn::has_convolutions(a.model)) {
      const double gflop = epoch_gemm_gflop(*model.net, train_set.size());
      out["epoch_gemm_gflop"] = gflop;
      out["epoch_gemm_gflops"] = gflop / seconds[seconds.size() / 2];  // the rate the whole epoch implies
      out["gemm_peak_gflops"] = cpu_gemm_peak_gflops();
    }
    sprint::bench::add_machine_fields(out);
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sprint_bench_train: error: %s\n", e.what());
    return 1;
  }
}
