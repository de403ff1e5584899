// gpu_ops_bench.cpp: per-op microbenchmarks of the CUDA backend. Each case runs the op through its ops:: front door
// (the same path training takes) `--iters` times between two timing events after `--warmup` calls, and reports
// the median of `--repeats` such loops as achieved TFLOP/s (compute-bound ops) or GB/s (memory-bound ops), with
// the fraction of the peaks this run measures first: per dtype, an 8192³ matrix product through sprint's GEMM
// (cuBLASLt, no epilogue; f32 without TF32 unless --tf32 on, so f32 is compared with the f32 peak), and a 1 GiB
// device-to-device copy (bytes read + written). The settings both sides share are printed with the results:
// convolutions channels-last with KCRS weights, cuDNN algorithms searched once per problem (cudnnFind, as
// PyTorch's cudnn.benchmark), TF32 and determinism as given (defaults: both off, PyTorch's defaults for
// convolutions). Prints one JSON object. The PyTorch side: bench/peers/pytorch_gpu_ops.py (same cases, shapes
// and settings).
// Usage: sprint_bench_gpu_ops [--device cuda:0] [--dtypes f32,f16,bf16] [--iters 50] [--warmup 5] [--repeats 5]
//                             [--tf32 on|off] [--deterministic on|off] [--filter SUBSTRING]
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_options.h"

#include "sprint/backend/api/common.h"
#include "sprint/core/rng.h"
#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/linear.h"
#include "sprint/ops/loss.h"
#include "sprint/ops/norm.h"
#include "sprint/ops/optimizer.h"
#include "sprint/ops/pool.h"
#include "sprint/runtime/device_registry.h"

namespace {
using namespace sprint;

struct Args {
  std::string device = "cuda:0", dtypes = "f32,f16,bf16", filter;
  int iters = 50, warmup = 5, repeats = 5;
  bool tf32 = false, deterministic = false;
};

bool on_off(const std::string& key, const std::string& v) {
  if (v != "on" && v != "off") throw InvalidArgument(key + " takes on or off, got '" + v + "'");
  return v == "on";
}

Args parse(int argc, char** argv) {
  Args a;
  sprint::bench::parse_options(argc, argv, [&](const std::string& k, const std::string& v) {
    if (k == "--device") a.device = v;
    else if (k == "--dtypes") a.dtypes = v;
    else if (k == "--filter") a.filter = v;
    else if (k == "--iters") a.iters = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else if (k == "--tf32") a.tf32 = on_off(k, v);
    else if (k == "--deterministic") a.deterministic = on_off(k, v);
    else return false;
    return true;
  });
  if (a.iters < 1 || a.warmup < 0 || a.repeats < 1) throw InvalidArgument("--iters/--repeats must be >= 1");
  return a;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

/// A device tensor of `dtype` with N(0, scale²) values, in `format`.
Tensor random_device(const Stream& s, const Shape& shape, DType dtype, Generator& rng, double scale = 0.1,
                     MemoryFormat format = MemoryFormat::kContiguous) {
  Tensor host = Tensor::empty(shape, DType::kF32);
  float* p = host.data_as<float>();
  for (int64_t i = 0; i < host.numel(); ++i) p[i] = static_cast<float>(scale) * rng.normal();
  return ops::cast_to(s, ops::to_stream_device(s, host), dtype, format);
}

Tensor zeros_device(const Stream& s, const Shape& shape, DType dtype,
                    MemoryFormat format = MemoryFormat::kContiguous) {
  Tensor t = Tensor::empty(shape, dtype, s.context().allocator(), format);
  ops::fill(s, t, 0.0);
  return t;
}

struct Case {
  std::string name, dtype, shape;
  double flops = 0.0, bytes = 0.0;  ///< per call; flops > 0 → reported as TFLOP/s, else GB/s
  std::function<void()> run;
};

/// The ceilings measured at start: per dtype, the TFLOP/s of a large plain GEMM; the GB/s of a large copy.
struct Peaks {
  std::map<std::string, double> gemm_tflops;
  double copy_gbps = 0.0;
};

class Bench {
 public:
  Bench(const Args& a, const Stream& s) : a_(a), s_(s) {}

  /// Median ms per call of `run` (warm-up, then `repeats` loops of `iters` calls between two timing events).
  double median_ms(const std::function<void()>& run) {
    for (int i = 0; i < a_.warmup; ++i) run();
    std::vector<double> ms;
    for (int r = 0; r < a_.repeats; ++r) {
      Event start(s_.context(), true), stop(s_.context(), true);
      start.record(s_);
      for (int i = 0; i < a_.iters; ++i) run();
      stop.record(s_);
      ms.push_back(static_cast<double>(stop.elapsed_ms_since(start)) / a_.iters);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

  nlohmann::ordered_json time(const Case& c, const Peaks& peaks) {
    const double t = median_ms(c.run);
    nlohmann::ordered_json j{{"op", c.name}, {"dtype", c.dtype}, {"shape", c.shape}, {"ms", t}};
    if (c.flops > 0) {
      const double tflops = c.flops / (t * 1e-3) / 1e12;
      j["tflops"] = tflops;
      j["fraction_of_peak"] = tflops / peaks.gemm_tflops.at(c.dtype);
    } else {
      const double gbps = c.bytes / (t * 1e-3) / 1e9;
      j["gbps"] = gbps;
      j["fraction_of_peak"] = gbps / peaks.copy_gbps;
    }
    return j;
  }

 private:
  const Args& a_;
  Stream s_;
};

// Tensors live as long as the closures that use them: each case captures its tensors by value (shared storage).
std::vector<Case> make_cases(const Stream& s, DType dt, Generator& rng) {
  const std::string dn{dtype_name(dt)};
  const double es = static_cast<double>(dtype_size(dt));
  std::vector<Case> cases;

  // GEMM (linear forward, bias + ReLU epilogue): y(M, N) = x(M, K) · w(N, K)ᵀ.
  for (int64_t m : {4096, 8192}) {
    const int64_t n = m, k = m;
    Tensor x = random_device(s, {m, k}, dt, rng), w = random_device(s, {n, k}, dt, rng),
           b = random_device(s, {n}, dt, rng), y = zeros_device(s, {m, n}, dt);
    cases.push_back({"linear_forward_bias_relu", dn, fmt::format("{}x{}x{}", m, n, k), 2.0 * m * n * k, 0.0,
                     [=] { ops::linear_forward(s, {.x = x, .w = w, .b = b, .y = y, .activation = Activation::kReLU}); }});
    Tensor dy = random_device(s, {m, n}, dt, rng), dx = zeros_device(s, {m, k}, dt), dw = zeros_device(s, {n, k}, dt),
           db = zeros_device(s, {n}, dt), scratch = zeros_device(s, {m, n}, dt);
    cases.push_back({"linear_backward_relu", dn, fmt::format("{}x{}x{}", m, n, k), 4.0 * m * n * k, 0.0, [=] {
                       ops::linear_backward(s, {.dy = dy, .x = x, .w = w, .y = y, .scratch = scratch, .dx = dx,
                                                .dw = dw, .db = db, .activation = Activation::kReLU});
                     }});
  }

  // Convolutions of ResNet-18 on CIFAR-10 (batch 256), channels-last.
  struct ConvShape { int64_t n, c, k, hw, stride; };
  for (const ConvShape& cs : {ConvShape{256, 64, 64, 32, 1}, ConvShape{256, 128, 128, 16, 1},
                              ConvShape{256, 256, 256, 8, 1}, ConvShape{256, 128, 256, 16, 2}}) {
    const Conv2dParams p{.stride = cs.stride, .padding = 1};
    const int64_t out = conv2d_output_size(cs.hw, 3, p);
    const auto cl = MemoryFormat::kChannelsLast;
    Tensor x = random_device(s, {cs.n, cs.c, cs.hw, cs.hw}, dt, rng, 1.0, cl);
    Tensor w = random_device(s, {cs.k, cs.c, 3, 3}, dt, rng), none;
    Tensor y = zeros_device(s, {cs.n, cs.k, out, out}, dt, cl), dy = random_device(s, {cs.n, cs.k, out, out}, dt, rng, 1.0, cl);
    Tensor dx = zeros_device(s, {cs.n, cs.c, cs.hw, cs.hw}, dt, cl), dw = zeros_device(s, {cs.k, cs.c, 3, 3}, dt);
    const double flops = 2.0 * cs.n * cs.k * out * out * cs.c * 9;
    const std::string shape = fmt::format("N{} C{} K{} {}x{} s{} NHWC", cs.n, cs.c, cs.k, cs.hw, cs.hw, cs.stride);
    cases.push_back({"conv2d_forward", dn, shape, flops, 0.0,
                     [=] { ops::conv2d_forward(s, {.x = x, .w = w, .b = none, .y = y, .params = p}); }});
    cases.push_back({"conv2d_backward_data", dn, shape, flops, 0.0,
                     [=] { ops::conv2d_backward_data(s, {.dy = dy, .w = w, .dx = dx, .params = p}); }});
    cases.push_back({"conv2d_backward_weight", dn, shape, flops, 0.0, [=] {
                       ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = none, .params = p});
                     }});
  }

  // Batch norm (training forward), NHWC: reads x twice (statistics, normalise), writes y.
  {
    const int64_t n = 256, c = 128, hw = 16;
    const auto cl = MemoryFormat::kChannelsLast;
    Tensor x = random_device(s, {n, c, hw, hw}, dt, rng, 1.0, cl), y = zeros_device(s, {n, c, hw, hw}, dt, cl);
    Tensor gamma = random_device(s, {c}, DType::kF32, rng), beta = random_device(s, {c}, DType::kF32, rng);
    Tensor rm = zeros_device(s, {c}, DType::kF32), rv = zeros_device(s, {c}, DType::kF32);
    Tensor sm = zeros_device(s, {c}, DType::kF32), si = zeros_device(s, {c}, DType::kF32);
    const double elems = static_cast<double>(n * c * hw * hw);
    cases.push_back({"batch_norm_forward_training", dn, fmt::format("N{} C{} {}x{} NHWC", n, c, hw, hw), 0.0,
                     3.0 * elems * es, [=] {
                       ops::batch_norm_forward_training(s, {.x = x, .gamma = gamma, .beta = beta, .y = y,
                                                            .running_mean = rm, .running_var = rv,
                                                            .save_mean = sm, .save_invstd = si});
                     }});
  }

  // Memory-bound elementwise ops over 64 Mi elements.
  {
    const int64_t n = int64_t{1} << 26;
    Tensor a = random_device(s, {n}, dt, rng), b = random_device(s, {n}, dt, rng), out = zeros_device(s, {n}, dt);
    const std::string shape = fmt::format("{}", n);
    cases.push_back({"relu_forward", dn, shape, 0.0, 2.0 * n * es, [=] { ops::relu_forward(s, a, out); }});
    cases.push_back({"axpby", dn, shape, 0.0, 3.0 * n * es,
                     [=] { ops::axpby(s, {.a = a, .b = b, .out = out, .alpha = 0.5, .beta = 2.0}); }});
    Tensor f32 = zeros_device(s, {n}, DType::kF32);
    if (dt != DType::kF32)
      cases.push_back({"cast_to_f32", dn, shape, 0.0, n * (es + 4.0), [=] { ops::copy(s, a, f32); }});
  }

  // Softmax cross-entropy (fused, label smoothing 0.1): reads logits, writes probabilities.
  {
    const int64_t n = 8192, k = 1000;
    Tensor logits = random_device(s, {n, k}, dt, rng, 1.0), probs = zeros_device(s, {n, k}, dt);
    Tensor target = Tensor::empty({n}, DType::kI32, s.context().allocator());
    ops::fill(s, target, 3.0);
    Tensor loss = zeros_device(s, {}, DType::kF32);
    cases.push_back({"cross_entropy_forward", dn, fmt::format("{}x{}", n, k), 0.0, 2.0 * n * k * es, [=] {
                       ops::cross_entropy_forward(s, {.logits = logits, .target = target, .probs = probs,
                                                      .loss = loss, .label_smoothing = 0.1});
                     }});
  }

  // Fused multi-tensor SGD with momentum over ResNet-18-like parameters (f32 master weights, 11.2 M values).
  if (dt == DType::kF32) {
    std::vector<Tensor> params, grads, bufs;
    double total = 0.0;
    for (int64_t size : {1728, 36864, 36864, 36864, 36864, 73728, 147456, 147456, 147456, 294912, 589824, 589824,
                         589824, 1179648, 2359296, 2359296, 2359296, 5120}) {
      params.push_back(random_device(s, {size}, DType::kF32, rng));
      grads.push_back(random_device(s, {size}, DType::kF32, rng));
      bufs.push_back(random_device(s, {size}, DType::kF32, rng));
      total += static_cast<double>(size);
    }
    cases.push_back({"sgd_momentum_multi_tensor", dn, fmt::format("{} tensors, {:.0f} values", params.size(), total),
                     0.0, total * 4.0 * 5.0, [=] {  // reads p, g, buf; writes p, buf
                       ops::sgd_update(s, {.params = params, .grads = grads, .momentum_buffers = bufs,
                                           .hyper = {.lr = 0.01, .momentum = 0.9}});
                     }});
  }
  return cases;
}

/// The ceilings of this device, measured the way the cases run: a plain 8192³ GEMM per dtype (random inputs,
/// never zeros), and a copy of 1 GiB (2 GiB moved).
Peaks measure_peaks(Bench& bench, const Stream& s, const std::vector<std::string>& dtypes, Generator& rng) {
  Peaks peaks;
  const int64_t m = 8192;
  for (const std::string& name : dtypes) {
    const DType dt = parse_dtype(name);
    Tensor x = random_device(s, {m, m}, dt, rng, 0.1, MemoryFormat::kContiguous);
    Tensor w = random_device(s, {m, m}, dt, rng, 0.1, MemoryFormat::kContiguous);
    Tensor y = zeros_device(s, {m, m}, dt);
    const double t = bench.median_ms([=] { ops::linear_forward(s, {.x = x, .w = w, .b = kNoTensor, .y = y}); });
    peaks.gemm_tflops[std::string(dtype_name(dt))] = 2.0 * m * m * m / (t * 1e-3) / 1e12;
  }
  const int64_t n = int64_t{1} << 28;  // f32: 1 GiB
  Tensor a = random_device(s, {n}, DType::kF32, rng, 1.0, MemoryFormat::kContiguous);
  Tensor b = zeros_device(s, {n}, DType::kF32);
  const double t = bench.median_ms([=] { ops::copy(s, a, b); });
  peaks.copy_gbps = 2.0 * static_cast<double>(n) * 4.0 / (t * 1e-3) / 1e9;
  return peaks;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    const Device device = parse_device(a.device);
    if (!device.is_cuda()) throw InvalidArgument("sprint_bench_gpu_ops measures CUDA devices; got " + a.device);
    if (cuda_device_count() == 0) throw Unsupported("no CUDA device: " + cuda_unavailable_reason());
    DeviceContext& ctx = device_context(device);
    ctx.set_numerics({.allow_tf32 = a.tf32, .deterministic = a.deterministic});
    const Stream s = ctx.compute_stream();
    Bench bench(a, s);
    Generator rng(0);
    const std::vector<std::string> dtypes = split(a.dtypes);
    const Peaks peaks = measure_peaks(bench, s, dtypes, rng);
    nlohmann::ordered_json out;
    out["engine"] = "sprint";
    out["device"] = a.device;
    out["settings"] = {{"convolution_layout", "NHWC activations, KCRS weights"},
                       {"f32_math", a.tf32 ? "tf32" : "fma (no TF32)"},
                       {"algorithm_search", "cudnnFind once per problem"},
                       {"deterministic", a.deterministic}};
    out["peaks"] = {{"gemm_tflops", peaks.gemm_tflops}, {"copy_gbps", peaks.copy_gbps},
                    {"how", "8192^3 GEMM per dtype through the engine's GEMM; 1 GiB device copy, read + write"}};
    out["results"] = nlohmann::ordered_json::array();
    for (const std::string& name : dtypes) {
      const DType dt = parse_dtype(name);
      for (const Case& c : make_cases(s, dt, rng)) {
        if (!a.filter.empty() && c.name.find(a.filter) == std::string::npos) continue;
        out["results"].push_back(bench.time(c, peaks));
        std::fprintf(stderr, "%s\n", out["results"].back().dump().c_str());
      }
    }
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sprint_bench_gpu_ops: error: %s\n", e.what());
    return 1;
  }
}
