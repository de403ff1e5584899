// bench_plan.cpp: the comparisons of `sprint bench` (see bench_plan.h).
#include "sprint/cli/bench_plan.h"

#include <fmt/format.h>

#include <string>

#include "sprint/core/error.h"

namespace sprint::cli {
namespace {

std::string number(double v) {
  return fmt::format("{}", v);
}

// Sets `name value` in args: replaces the value when the option is there, else appends both.
void set_option(std::vector<std::string>& args, const std::string& name, const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == name) {
      args[i + 1] = value;
      return;
    }
  args.insert(args.end(), {name, value});
}

void apply_size(BenchPlan& plan, const BenchSize& size, double quick_epochs, int64_t quick_train,
                int64_t quick_test) {
  std::optional<double> epochs = size.epochs;
  std::optional<int64_t> train = size.limit_train, test = size.limit_test;
  if (size.quick) {
    if (!epochs) epochs = quick_epochs;
    if (!train) train = quick_train;
    if (!test) test = quick_test;
  }
  for (BenchConfig& c : plan.configs) {
    if (epochs) set_option(c.args, "--epochs", number(*epochs));
    if (train) set_option(c.args, "--limit-train", std::to_string(*train));
    if (test) set_option(c.args, "--limit-test", std::to_string(*test));
    if (size.dataset) set_option(c.args, "--dataset", *size.dataset);
  }
}

// Seed 003: the MNIST MLP on the CPU and on the GPU, 5 epochs.
BenchPlan cpu_vs_gpu(const BenchSize& size) {
  BenchPlan p{.name = "cpu-vs-gpu",
              .title = "MLP on MNIST: CPU against GPU",
              .description =
                  "Seed 003: the 784-128-10 MLP (ReLU, LogSoftmax + NLL) trained with SGD (lr 0.01, "
                  "momentum 0.9, batch 64) for 5 epochs by the `mlp-mnist` recipe, on the CPU and on "
                  "CUDA.",
              .configs = {{.label = "cpu", .args = {"--recipe", "mlp-mnist", "--device", "cpu"}},
                          {.label = "cuda",
                           .args = {"--recipe", "mlp-mnist", "--device", "cuda"},
                           .needs_cuda = true}},
              .baseline = "cpu",
              .own_devices = true};
  apply_size(p, size, 1, 10000, 2000);
  return p;
}

// Seed 001: ResNet-10 on CIFAR-10, the unoptimised baseline, then each technique of the optimised recipe
// added one at a time (cumulatively) up to it.
BenchPlan optimizations(const BenchSize& size) {
  const std::vector<std::string> base = {"--model", "resnet10", "--dataset", "cifar10", "--epochs", "5"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  // SGD's lr follows the batch (linear scaling: 0.001 at batch 4 -> 0.064 at 256) until AdamW replaces it.
  const std::vector<std::string> sgd_small = {"--optimizer", "sgd", "--lr", "0.001", "--momentum", "0.9"};
  const std::vector<std::string> sgd_large = {"--optimizer", "sgd", "--lr", "0.064", "--momentum", "0.9"};
  const std::vector<std::string> adamw = {"--optimizer", "adamw", "--lr", "3e-3", "--weight-decay", "5e-4"};
  const std::vector<std::string> onecycle = {"--schedule", "onecycle", "--warmup-pct", "0.25"};
  auto join = [](std::initializer_list<std::vector<std::string>> parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const std::vector<std::string> b256 = {"--batch-size", "256"}, workers = {"--workers", "4"},
                                 acc = {"--accumulate", "2"}, share = {"--share-weights"};
  const std::vector<std::string> amp = {"--amp", "f16"};  // CUDA rows only (cuda_args)
  BenchPlan p{
      .name = "optimizations",
      .title = "ResNet-10 on CIFAR-10: unoptimised against optimised, one technique at a time",
      .description =
          "Seed 001: the `resnet10-baseline` recipe (batch 4, SGD lr 0.001, momentum 0.9) against the "
          "optimised "
          "one, adding each of its techniques in turn: batch 256 (SGD lr scaled linearly to 0.064), 4 loader "
          "workers (with pinned staging buffers on CUDA), mixed precision (f16 with dynamic loss scaling; "
          "CUDA only), "
          "gradient accumulation over 2 batches, AdamW (lr 3e-3, weight decay 5e-4), OneCycle (25% warm-up) "
          "and the "
          "shared early-layer weight. Each row keeps the rows above it.",
      .configs =
          {
              {.label = "baseline",
               .args = with(join({{"--batch-size", "4", "--workers", "0"}, sgd_small})),
               .note = "batch 4, SGD"},
              {.label = "+ batch 256", .args = with(join({b256, {"--workers", "0"}, sgd_large}))},
              {.label = "+ 4 workers", .args = with(join({b256, workers, sgd_large}))},
              {.label = "+ mixed precision",
               .args = with(join({b256, workers, sgd_large})),
               .cuda_args = amp,
               .needs_cuda = true},
              {.label = "+ accumulate 2",
               .args = with(join({b256, workers, acc, sgd_large})),
               .cuda_args = amp},
              {.label = "+ AdamW", .args = with(join({b256, workers, acc, adamw})), .cuda_args = amp},
              {.label = "+ OneCycle",
               .args = with(join({b256, workers, acc, adamw, onecycle})),
               .cuda_args = amp},
              {.label = "+ weight sharing",
               .args = with(join({b256, workers, acc, adamw, onecycle, share})),
               .cuda_args = amp,
               .note = "the optimised recipe"},
          },
      .baseline = "baseline",
      .ablation = true};
  apply_size(p, size, 1, 1024, 500);
  return p;
}

// Seed 004: the CIFAR-10 speed-run recipes, accuracy over seeds and time.
BenchPlan speedrun(const BenchSize& size) {
  BenchPlan p{.name = "speedrun",
              .title = "CIFAR-10 speed runs: airbench94 and cifar10-fast",
              .description =
                  "Seed 004's starting point and today's record recipe: `airbench94` (whitening conv, GELU, "
                  "9.9 epochs of batch 1024, lookahead, 6-view TTA; 94% is its target) and `cifar10-fast` "
                  "(ResNet-9, 24 epochs of batch 512, crop + flip + cutout). Each repeat is another seed.",
              .configs = {{.label = "airbench94", .args = {"--recipe", "airbench94"}},
                          {.label = "cifar10-fast", .args = {"--recipe", "cifar10-fast"}}},
              .baseline = "cifar10-fast",
              .vary_seed = true};
  apply_size(p, size, 1, 2048, 1000);
  return p;
}

// Seed 002: ResNet-18 profiled layer by layer, with its memory peak, Chrome trace and TensorBoard log; then
// the same steps on sprint's plain reference kernels, so each op's time shows what the libraries (oneDNN,
// sprint's Winograd and AVX2 GEMM kernels on the CPU) buy.
BenchPlan libraries(const BenchSize& size) {
  const int64_t batch = size.quick ? 4 : 64, warmup = size.quick ? 1 : 2, steps = size.quick ? 2 : 5;
  std::vector<std::string> common = {"--recipe",
                                     "resnet18-adam",
                                     "--batch-size",
                                     std::to_string(batch),
                                     "--profile",
                                     "--profile-warmup",
                                     std::to_string(warmup),
                                     "--profile-steps",
                                     std::to_string(steps),
                                     "--profile-rows",
                                     "15",
                                     "--max-steps",
                                     std::to_string(warmup + steps),
                                     "--device",
                                     "cpu"};
  std::vector<std::string> fast = common, reference = common;
  fast.insert(fast.end(), {"--trace", "{out}/trace.json", "--tensorboard", "{out}/tensorboard"});
  reference.insert(reference.end(), {"--cpu-kernels", "reference"});
  BenchPlan p{
      .name = "libraries",
      .title = "ResNet-18 profiled: what the kernel libraries buy, per op",
      .description = fmt::format(
          "Seed 002: ResNet-18 (CIFAR variant) with the `resnet18-adam` recipe (Adam lr 1e-3) at batch {}, "
          "{} training steps profiled layer by layer after {} warm-up steps: the fast CPU kernels (oneDNN, "
          "sprint's Winograd and AVX2 GEMM), which also write a Chrome trace (`trace.json`, open it in "
          "Perfetto) and a TensorBoard log (`tensorboard/`); then the same steps on sprint's plain reference "
          "loops (`--cpu-kernels reference`), the oracle every fast path is tested against.",
          batch, steps, warmup),
      .configs = {{.label = "fast kernels", .args = fast, .note = "oneDNN, Winograd, AVX2 GEMM"},
                  {.label = "reference kernels", .args = reference, .note = "plain loops"}},
      .baseline = "reference kernels",
      .own_devices = true,
      .per_op = true};
  // The profile window fixes the steps; only the data set's size (and evaluation) follow the size options.
  BenchSize data_only = size;
  data_only.quick = false;
  data_only.epochs.reset();
  if (!data_only.limit_train) data_only.limit_train = batch * (warmup + steps);
  if (!data_only.limit_test) data_only.limit_test = 64;
  apply_size(p, data_only, 1, 0, 0);
  return p;
}

// Seed 000: plain training against a 2-stage pipeline with each weight policy, on the seed's four experiments.
BenchPlan spectrain(const BenchSize& size) {
  struct Experiment {
    std::string group;
    std::vector<std::string> args;
  };
  const std::vector<std::string> sgd = {"--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9"};
  const std::vector<Experiment> experiments = {
      {"random MLP",
       {"--dataset", "random", "--samples", "100", "--features", "10", "--model", "mlp2", "--batch-size", "10",
        "--threads", "2"}},
      {"CIFAR-10 CNN", {"--dataset", "cifar10", "--model", "cnn", "--batch-size", "64"}},
      {"CIFAR-10 FC", {"--dataset", "cifar10", "--model", "fc", "--batch-size", "64", "--threads", "2"}},
      {"FashionMNIST CNN", {"--dataset", "fashion-mnist", "--model", "cnn", "--batch-size", "64"}},
      {"FashionMNIST FC", {"--dataset", "fashion-mnist", "--model", "fc", "--batch-size", "64", "--threads", "2"}},
      {"CIFAR-10 ResNet18", {"--dataset", "cifar10", "--model", "resnet18", "--batch-size", "64"}},
      {"CIFAR-10 VGG16", {"--dataset", "cifar10", "--model", "vgg16", "--batch-size", "64"}},
  };
  // A depth sweep labels its rows "spectrain, 4 stages"; the default single depth keeps the plain names.
  const std::vector<int> depths = size.stages.empty() ? std::vector<int>{2} : size.stages;
  std::string depth_text;
  for (size_t i = 0; i < depths.size(); ++i)
    depth_text += (i == 0 ? "" : i + 1 == depths.size() ? " and " : ", ") + std::to_string(depths[i]);
  BenchPlan p{.name = "spectrain",
              .title = "Pipeline model parallelism: plain training against 1F1B with each weight policy",
              .description = fmt::format(
                  "Seed 000's four experiments (an MLP with two hidden layers on 100 random samples of 10 "
                  "features, batch 10; CNN and FC on CIFAR-10 and on FashionMNIST; ResNet18 and VGG16 on "
                  "CIFAR-10; batch 64), SGD lr 0.01 with momentum 0.9 in every arm, 5 epochs: plain training on "
                  "one thread team, then a pipeline of {} stages (a thread each, stages balanced by measured "
                  "layer time) training 1F1B with stale weights (`none`), PipeDream's weight stashing "
                  "(`stash`), SpecTrain's predicted weights (`spectrain`), and GPipe's synchronous "
                  "micro-batches (`sync`, 4 per batch). Every arm sees the same batches in the same order; "
                  "repeats run interleaved (every row once, then again).",
                  depth_text),
              .configs = {},
              .baseline = "plain",
              .pipeline = true};
  for (const Experiment& e : experiments) {
    auto add = [&](const std::string& arm, int stages, const std::vector<std::string>& extra) {
      const std::string suffix = size.stages.empty() || stages == 0 ? "" : fmt::format(", {} stages", stages);
      BenchConfig c{.label = e.group + ": " + arm + suffix, .args = e.args, .group = e.group, .arm = arm,
                    .stages = stages};
      c.args.insert(c.args.end(), sgd.begin(), sgd.end());
      c.args.insert(c.args.end(), {"--epochs", "5"});
      c.args.insert(c.args.end(), extra.begin(), extra.end());
      p.configs.push_back(std::move(c));
    };
    add("plain", 0, {});
    for (const int k : depths) {
      const std::string depth = std::to_string(k);
      for (const char* policy : {"none", "stash", "spectrain"})
        add(policy, k, {"--pipeline", depth, "--weight-policy", policy});
      add("sync", k, {"--pipeline", depth, "--weight-policy", "sync", "--micro-batches", "4"});
    }
  }
  apply_size(p, size, 1, 256, 256);
  return p;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> bench_names() {
  return {{"cpu-vs-gpu", "seed 003: the MNIST MLP, 5 epochs, on the CPU and on CUDA"},
          {"optimizations", "seed 001: ResNet-10 baseline against optimised, each technique added in turn"},
          {"speedrun", "seed 004: the airbench94 and cifar10-fast recipes, accuracy over seeds and time"},
          {"libraries",
           "seed 002: ResNet-18 profiled per layer, fast kernels against the reference loops per op"},
          {"spectrain",
           "seed 000: plain training against a 2-stage pipeline with stale, stashed, SpecTrain and GPipe weights"},
          {"fish", "seed 004: FISH masks against random ones and dense training, small checkpoints and sparse merges"}};
}

BenchPlan bench_plan(const std::string& name, const BenchSize& size) {
  if (name == "cpu-vs-gpu") return cpu_vs_gpu(size);
  if (name == "optimizations") return optimizations(size);
  if (name == "speedrun") return speedrun(size);
  if (name == "libraries") return libraries(size);
  if (name == "spectrain") return spectrain(size);
  std::string known;
  for (const auto& [n, what] : bench_names()) known += (known.empty() ? "" : ", ") + n;
  SPRINT_THROW(InvalidArgument, "unknown benchmark '{}' (known: {})", name, known);
}

}  // namespace sprint::cli
