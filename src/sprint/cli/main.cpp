// main.cpp: the `sprint` command line. Parses arguments with CLI11 into typed structs (commands.h) and runs the
// subcommand. Every sprint::Error becomes one line on stderr and exit code 1; usage errors exit with 2.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "sprint/cli/commands.h"
#include "sprint/config.h"
#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/nn/models.h"

namespace {

std::string model_help() {
  std::string text = "model to train:";
  for (const auto& m : sprint::nn::model_catalog()) text += "\n  " + m.name + ": " + m.summary;
  return text;
}

void add_train(CLI::App& app, sprint::cli::TrainArgs& a) {
  auto* t = app.add_subcommand("train", "Train a model and print a per-epoch table");
  std::vector<std::string> models;
  for (const auto& m : sprint::nn::model_catalog()) models.push_back(m.name);
  t->add_option("-m,--model", a.model, model_help())->check(CLI::IsMember(models))->capture_default_str();
  t->add_option("-d,--dataset", a.dataset, "fashion-mnist | mnist | cifar10 | random")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "random"}))
      ->capture_default_str();
  t->add_option("-e,--epochs", a.epochs, "number of epochs")->check(CLI::Range(1, 100000))->capture_default_str();
  t->add_option("-b,--batch-size", a.batch_size, "training batch size")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  t->add_option("--eval-batch-size", a.eval_batch_size, "evaluation batch size")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  t->add_option("--optimizer", a.optimizer,
                "sgd (momentum, Nesterov) | adam | adamw (decoupled weight decay; betas 0.9, 0.999, eps 1e-8)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  t->add_option("--lr", a.lr, "learning rate (default: 0.01 for sgd, 0.001 for adam and adamw)")
      ->check(CLI::Range(0.0, 1e6));
  t->add_option("--schedule", a.schedule,
                "learning rate over the run, per optimizer step (torch.optim.lr_scheduler semantics): constant | "
                "onecycle (OneCycleLR peaking at --lr, cosine, momentum cycled 0.95-0.85) | cosine (to 0) | step "
                "(x --gamma every --step-epochs) | piecewise (--lr-knots)")
      ->check(CLI::IsMember({"constant", "onecycle", "cosine", "step", "piecewise"}))->capture_default_str();
  t->add_option("--lr-knots", a.lr_knots,
                "piecewise schedule: lr at given epochs, linear in between and constant outside, e.g. "
                "0:0,5:0.4,24:0 (cifar10-fast)");
  t->add_option("--warmup-pct", a.warmup_pct, "onecycle: fraction of the steps spent rising to --lr")
      ->check(CLI::Range(0.01, 0.99))->capture_default_str();
  t->add_option("--step-epochs", a.step_epochs, "step schedule: epochs between decays")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--gamma", a.gamma, "step schedule: decay factor")->check(CLI::Range(1e-9, 1.0))->capture_default_str();
  t->add_option("--momentum", a.momentum, "SGD momentum (0 disables)")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  t->add_option("--weight-decay", a.weight_decay, "weight decay: L2 for sgd and adam, decoupled for adamw")
      ->check(CLI::Range(0.0, 1e3))->capture_default_str();
  t->add_flag("--nesterov", a.nesterov, "Nesterov momentum (sgd)");
  t->add_option("--label-smoothing", a.label_smoothing, "label smoothing for cross-entropy models")
      ->check(CLI::Range(0.0, 0.999))->capture_default_str();
  t->add_option("--accumulate", a.accumulate_steps, "gradient accumulation: optimizer step every N batches")
      ->check(CLI::Range(1, 1 << 16))->capture_default_str();
  t->add_option("--seed", a.seed, "seed for initialisation, shuffling and dropout (same seed, same run on CPU)")
      ->capture_default_str();
  // Checked by run_train (parse_threads), like --device: a bad value is one "sprint: error:" line, exit 1.
  t->add_option("-j,--threads", a.threads,
                "CPU compute threads: auto = the cores available to this process for cnn / resnet10 / resnet18 and 1 "
                "for mlp / mlp2 / fc (one thread is fastest there), or a number from 1 to 1024")
      ->type_name("auto|N")->capture_default_str();
  t->add_option("--workers", a.workers, "data-loader threads (0 = load on the training thread)")
      ->check(CLI::Range(0, 64))->capture_default_str();
  t->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  t->add_option("--resident-data", a.resident,
                 "keep the data set on the device and gather batches there: auto (on for cuda) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  t->add_flag("--cuda-graph", a.cuda_graph,
              "capture the training step in a CUDA graph and replay it (cuda; needs resident data, no --accumulate)");
  t->add_option("--tf32", a.tf32, "cuda: f32 matrix products and convolutions on TF32 tensor cores: on | off")
      ->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  t->add_option("--deterministic", a.deterministic,
                "cuda: only algorithms that give the same bits run to run: on | off (off lets cuDNN pick faster, "
                "non-deterministic ones)")
      ->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  t->add_option("--memory-format", a.memory_format,
                 "activation layout: auto (conv models: channel-blocked on cpu, nhwc on cuda; else nchw) | nchw | "
                 "nhwc (channels-last) | blocked (cpu)")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc", "blocked"}))
      ->capture_default_str();
  t->add_option("--data-dir", a.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  t->add_option("--report", a.report, "write a JSON report of the run to this file");
  t->add_option("--progress", a.progress, "live progress line on stderr: auto (when a terminal) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  t->add_option("--limit-train", a.limit_train, "use only the first N training samples (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--limit-test", a.limit_test, "use only the first N test samples (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--hidden", a.hidden, "hidden layer widths for mlp / mlp2 / fc, e.g. --hidden 256,128")
      ->delimiter(',')->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  // Augmentation flags are checked by run_train (augment_options), like --threads: one "sprint: error:" line.
  t->add_option("--crop-pad", a.crop_pad,
                "augmentation (image data sets): translate each training image by up to +-N pixels, i.e. pad by N "
                "and take a random crop (0 = off)")
      ->capture_default_str();
  t->add_option("--crop-mode", a.crop_mode, "border of the translated image: reflect (numpy.pad reflect) | zero")
      ->capture_default_str();
  t->add_option("--flip", a.flip,
                "left-right flip of training images: none | random (each epoch anew) | alternate (airbench: a random "
                "half in epoch 1, exactly the other half in epoch 2, and so on)")
      ->capture_default_str();
  t->add_option("--cutout", a.cutout, "zero one NxN square of each training image at a random centre (0 = off)")
      ->capture_default_str();
  t->add_option("--tta", a.tta,
                "test-time augmentation (airbench94): 0 = none | 1 = mean of the logits of the image and its mirror | "
                "2 = also 1-pixel translations up-left and down-right (6 views)")
      ->capture_default_str();
  t->add_option("--samples", a.random_samples, "random data set: number of samples (80% train, 20% test)")
      ->check(CLI::Range(int64_t{10}, int64_t{1} << 30))->capture_default_str();
  t->add_option("--features", a.random_features, "random data set: features per sample")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--classes", a.random_classes, "random data set: number of classes")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20))->capture_default_str();
  t->footer(
      "Examples:\n"
      "  sprint train                                   # MLP on FashionMNIST, 3 epochs, SGD lr 0.01 momentum 0.9\n"
      "  sprint train --model cnn --epochs 1 --report run.json\n"
      "  sprint train --dataset random --model mlp2 --samples 100 --features 10");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sprint: fast neural-network training in C++20 and CUDA (version " SPRINT_VERSION ")", "sprint"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sprint ") + SPRINT_VERSION);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "debug | info | warn | error | off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))->capture_default_str();

  sprint::cli::TrainArgs train_args;
  add_train(app, train_args);

  auto* data = app.add_subcommand("data", "Install and inspect data sets");
  data->require_subcommand(1);
  sprint::cli::DataFetchArgs fetch_args;
  auto* fetch = data->add_subcommand("fetch", "Download, convert and verify (md5) data sets into the data directory");
  fetch->add_option("names", fetch_args.names, "mnist | fashion-mnist | cifar10")
      ->required()->check(CLI::IsMember({"mnist", "fashion-mnist", "cifar10"}));
  fetch->add_option("--data-dir", fetch_args.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  fetch->add_flag("--force", fetch_args.force, "fetch again even if already installed and verified");
  std::optional<std::string> list_dir;
  auto* list = data->add_subcommand("list", "Show which data sets are installed");
  list->add_option("--data-dir", list_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");

  auto* info = app.add_subcommand("info", "Show the build configuration, CPU threads and CUDA devices");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    sprint::set_log_level(sprint::parse_log_level(log_level));
    if (app.got_subcommand("train")) return sprint::cli::run_train(train_args);
    if (fetch->parsed()) return sprint::cli::run_data_fetch(fetch_args);
    if (list->parsed()) return sprint::cli::run_data_list(list_dir);
    if (info->parsed()) return sprint::cli::run_info();
  } catch (const sprint::Error& e) {
    std::fprintf(stderr, "sprint: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sprint: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
