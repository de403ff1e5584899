// main.cpp: the `sprint` command line. Parses arguments with CLI11 into typed structs (commands.h) and runs the
// subcommand. Every sprint::Error becomes one line on stderr and exit code 1; usage errors exit with 2.
// `sprint train --recipe R` parses twice: once to learn which options the command line gives, then again with
// the recipe's other settings inserted after `train` (recipe.h).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>

#include <CLI/CLI.hpp>

#include "sprint/cli/commands.h"
#include "sprint/cli/exit_codes.h"
#include "sprint/cli/number_validator.h"
#include "sprint/cli/recipe.h"
#include "sprint/config.h"
#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/nn/models.h"
#include "sprint/train/checkpoint.h"

namespace {

std::string model_help() {
  std::string text = "model to train:";
  for (const auto& m : sprint::nn::model_catalog()) text += "\n  " + m.name + ": " + m.summary;
  return text;
}

void add_train(CLI::App& app, sprint::cli::TrainArgs& a) {
  auto* t = app.add_subcommand("train", "Train a model and print a per-epoch table");
  t->add_option("--recipe", a.recipe,
                "a recipe (`sprint recipes` lists them) or a .toml file of train settings; options given here win");
  std::vector<std::string> models;
  for (const auto& m : sprint::nn::model_catalog()) models.push_back(m.name);
  t->add_option("-m,--model", a.model, model_help())->check(CLI::IsMember(models))->capture_default_str();
  t->add_option("-d,--dataset", a.dataset, "fashion-mnist | mnist | cifar10 | random")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "random"}))
      ->capture_default_str();
  t->add_option("-e,--epochs", a.epochs,
                "number of epochs; a fraction ends the last epoch early (9.9 = 10 epochs, the last cut at 90% of its "
                "steps)")
      ->check(sprint::cli::StrictRange(0.001, 100000.0))->capture_default_str();
  t->add_option("--max-steps", a.max_steps, "stop after N optimizer steps (0 = no limit)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_flag("--drop-last", a.drop_last, "drop the short last training batch of every epoch");
  t->add_option("-b,--batch-size", a.batch_size, "training batch size")->check(sprint::cli::StrictRange(1, 1 << 20))->capture_default_str();
  t->add_option("--eval-batch-size", a.eval_batch_size, "evaluation batch size")
      ->check(sprint::cli::StrictRange(1, 1 << 20))->capture_default_str();
  t->add_option("--optimizer", a.optimizer,
                "sgd (momentum, Nesterov) | adam | adamw (decoupled weight decay; betas 0.9, 0.999, eps 1e-8)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  t->add_option("--lr", a.lr, "learning rate (default: 0.01 for sgd, 0.001 for adam and adamw)")
      ->check(sprint::cli::StrictRange(0.0, 1e6));
  t->add_option("--schedule", a.schedule,
                "learning rate over the run, per optimizer step (torch.optim.lr_scheduler semantics): constant | "
                "onecycle (OneCycleLR peaking at --lr, cosine, momentum cycled 0.95-0.85) | cosine (to 0) | step "
                "(x --gamma every --step-epochs) | piecewise (--lr-knots)")
      ->check(CLI::IsMember({"constant", "onecycle", "cosine", "step", "piecewise"}))->capture_default_str();
  t->add_option("--lr-knots", a.lr_knots,
                "piecewise schedule: lr at given epochs, linear in between and constant outside, e.g. "
                "0:0,5:0.4,24:0 (cifar10-fast); a position P% is floor(P/100 x the run's steps) steps, a value Vx is V "
                "times --lr (airbench94: 0:0.2x,23%:1x,100%:0.07x)");
  t->add_option("--warmup-pct", a.warmup_pct, "onecycle: fraction of the steps spent rising to --lr")
      ->check(sprint::cli::StrictRange(0.01, 0.99))->capture_default_str();
  t->add_option("--step-epochs", a.step_epochs, "step schedule: epochs between decays")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--gamma", a.gamma, "step schedule: decay factor")->check(sprint::cli::StrictRange(1e-9, 1.0))->capture_default_str();
  t->add_option("--momentum", a.momentum, "SGD momentum (0 disables)")->check(sprint::cli::StrictRange(0.0, 1.0))->capture_default_str();
  t->add_option("--weight-decay", a.weight_decay, "weight decay: L2 for sgd and adam, decoupled for adamw")
      ->check(sprint::cli::StrictRange(0.0, 1e3))->capture_default_str();
  t->add_flag("--nesterov", a.nesterov, "Nesterov momentum (sgd)");
  t->add_option("--bn-bias-lr-scale", a.bn_bias_lr_scale,
                "BatchNorm biases train at lr x this with weight decay / this (same decay per step; airbench: 64)")
      ->check(sprint::cli::StrictRange(1e-6, 1e6))->capture_default_str();
  t->add_option("--lookahead", a.lookahead,
                "every N optimizer steps average the weights and BatchNorm statistics (decay 0.95^5 (t/T)^3) and reset "
                "them to the average, which they also take after the last step (airbench94: 5; 0 = off)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 30))->capture_default_str();
  t->add_flag("--share-weights", a.share_weights,
              "resnet10/resnet18/resnet18-imagenet: layer1.0.conv2 shares layer1.0.conv1's weight (gradients summed)");
  t->add_option("--label-smoothing", a.label_smoothing, "label smoothing for cross-entropy models")
      ->check(sprint::cli::StrictRange(0.0, 0.999))->capture_default_str();
  t->add_option("--loss-reduction", a.loss_reduction,
                "cross-entropy models: mean | sum of the per-sample losses (airbench94 sums; scale --lr to match)")
      ->check(CLI::IsMember({"mean", "sum"}))->capture_default_str();
  t->add_option("--pipeline", a.pipeline,
                "pipeline model parallelism: cut the model into K stages, each on CPU threads of its own with its own "
                "optimizer, training 1F1B (one update per batch per stage) or GPipe-style (--weight-policy sync); "
                "0: off")
      ->check(sprint::cli::StrictRange(0, 64))->capture_default_str();
  t->add_option("--weight-policy", a.weight_policy,
                "--pipeline: the weights each pass runs with: none (current: stale gradients) | stash (the version "
                "the batch's forward used, PipeDream) | spectrain (predicted along SGD's momentum, SpecTrain) | sync "
                "(GPipe: --micro-batches, one update, exact)")
      ->check(CLI::IsMember({"none", "stash", "spectrain", "sync"}))->capture_default_str();
  t->add_option("--micro-batches", a.micro_batches, "--weight-policy sync: micro-batches per batch")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--pipeline-boundaries", a.pipeline_boundaries,
                "--pipeline: the first layer of each stage, e.g. 0,3,7 (default: balanced by each layer's measured "
                "time)")
      ->delimiter(',')->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 20));
  t->add_option("--stage-devices", a.stage_devices,
                "--pipeline: the device of each stage, e.g. cuda:0,cuda:1 (stage k on GPU k; cpu:N are logical host "
                "devices, for trying the placement on one machine); default: every stage on --device")
      ->delimiter(',');
  t->add_flag("--distributed", a.distributed,
              "data-parallel training over MPI: start under mpirun -np N; each rank trains --batch-size samples of "
              "every global batch of N x that, gradients averaged over the ranks; rank 0 alone prints and writes");
  t->add_option("--dist-timeout", a.dist_timeout,
                "--distributed: seconds a collective waits for the other ranks before the run fails with an error "
                "naming this rank")
      ->check(sprint::cli::StrictRange(0.001, 1e6))->capture_default_str();
  t->add_option("--dist-backend", a.dist_backend,
                "--distributed: the collectives' library: nccl (GPU tensors on the GPU; host ones over MPI), mpi "
                "(everything through host memory), auto = nccl with --device cuda when this sprint has it, else mpi")
      ->check(CLI::IsMember({"auto", "mpi", "nccl"}))->capture_default_str();
  t->add_option("--bucket-mb", a.bucket_mb,
                "--distributed: gradients are averaged over the ranks in flat buckets of about this many MiB")
      ->check(sprint::cli::StrictRange(0.001, 1e6))->capture_default_str();
  t->add_option("--dist-overlap", a.dist_overlap,
                "--distributed: on = each bucket's all-reduce starts during backward as soon as its gradients are "
                "final; off = all of them after backward")
      ->check(CLI::IsMember({"on", "off"}))->capture_default_str();
  t->add_flag("--sync-batchnorm", a.sync_batchnorm,
              "--distributed: BatchNorm layers normalise with the statistics of every rank's batch together "
              "(synchronised batch norm, as one process on the whole global batch); default: each rank's own");
  t->add_option("--merge-every", a.merge_every,
                "--distributed: local SGD instead of gradient averaging: every rank trains on the whole training set "
                "in its own order and the ranks average their weights (with --mask: the masked entries) every N "
                "optimizer steps and at the end (0 = off)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--mask", a.mask, "sparse training: train only the entries of this mask file (sprint fisher --out)");
  t->add_option("--mask-update", a.mask_update,
                "--mask: freeze (entries outside keep value and optimizer state bit for bit) | grad-only (only the "
                "gradient is masked; weight decay and momentum still move them, as FISH's code)")
      ->check(CLI::IsMember({"freeze", "grad-only"}))->capture_default_str();
  t->add_option("--mask-after-epochs", a.mask_after_epochs, "--mask: train the first N epochs densely")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--save-sparse", a.save_sparse,
                "--mask: at the end write a small checkpoint: the masked entries' values on top of the --init weights "
                "(sprint eval and --init read it)");
  t->add_option("--accumulate", a.accumulate_steps, "gradient accumulation: optimizer step every N batches")
      ->check(sprint::cli::StrictRange(1, 1 << 16))->capture_default_str();
  t->add_option("--seed", a.seed, "seed for initialisation, shuffling and dropout (same seed, same run on CPU)")
      ->check(sprint::cli::StrictRange<uint64_t>(0, UINT64_MAX))
      ->capture_default_str();
  // Checked by run_train (parse_threads), like --device: a bad value is one "sprint: error:" line, exit 1.
  t->add_option("-j,--threads", a.threads,
                "CPU compute threads: auto = the cores available to this process for the conv models and 1 "
                "for mlp / mlp2 / fc (one thread is fastest there), or a number from 1 to 1024")
      ->type_name("auto|N")->capture_default_str();
  t->add_option("--workers", a.workers, "data-loader threads (0 = load on the training thread)")
      ->check(sprint::cli::StrictRange(0, 64))->capture_default_str();
  t->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  t->add_option("--resident-data", a.resident,
                 "keep the data set on the device and gather batches there: auto (on for cuda) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  t->add_option("--cpu-kernels", a.cpu_kernels,
                 "CPU ops: fast (oneDNN, sprint's Winograd and AVX2 kernels) | reference (the plain loops every fast "
                 "path is tested against: what the libraries buy)")
      ->check(CLI::IsMember({"fast", "reference"}))->capture_default_str();
  t->add_option("--amp", a.amp,
                 "mixed precision: activations, convolutions and linear layers in bf16 or f16 from f32 master weights "
                 "(on the CPU, whose kernels are f32, each op widens its half operands: same numerics, slower than "
                 "f32): off | bf16 | f16")
      ->check(CLI::IsMember({"off", "bf16", "f16"}))->capture_default_str();
  t->add_option("--loss-scale", a.loss_scale,
                "dynamic loss scaling as PyTorch's GradScaler (x2 after --loss-scale-interval clean steps, x0.5 and "
                "the step skipped on inf/NaN gradients): auto (on with --amp f16) | dynamic | off")
      ->check(CLI::IsMember({"auto", "dynamic", "off"}))->capture_default_str();
  t->add_option("--loss-scale-init", a.loss_scale_init, "initial loss scale")
      ->check(sprint::cli::StrictRange(1e-30, 3e38))->capture_default_str();
  t->add_option("--loss-scale-interval", a.loss_scale_interval, "clean steps before the loss scale doubles")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40))->capture_default_str();
  t->add_flag("--cuda-graph", a.cuda_graph,
              "capture the training step in a CUDA graph and replay it, schedules included (cuda; needs resident data, "
              "no --accumulate, no loss scaling)");
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
  t->add_option("--tensorboard", a.tensorboard,
                "write TensorBoard scalars to an event file in this directory (created when missing) at every epoch "
                "end: train/loss, test/loss, test/accuracy, train/samples_per_second, lr, and final/tta_accuracy; "
                "step = optimizer steps");
  t->add_flag("--profile", a.profile,
              "time --profile-steps training steps after --profile-warmup ones, layer by layer (forward and backward), "
              "with the data wait, optimizer and memory; print the table at the end (the report gets \"profile\")");
  t->add_option("--profile-steps", a.profile_steps, "--profile: steps profiled")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--profile-warmup", a.profile_warmup, "--profile: steps run before the profiled ones")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--profile-rows", a.profile_rows, "--profile: rows of the printed table (longest total time first)")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--trace", a.trace,
                "--profile: write the profiled steps as a Chrome trace-event JSON file (Perfetto, chrome://tracing); "
                "--pipeline: each stage's passes on a track of its own");
  t->add_option("--progress", a.progress, "live progress line on stderr: auto (when a terminal) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  t->add_option("--limit-train", a.limit_train, "use only the first N training samples (0 = all)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--limit-test", a.limit_test, "use only the first N test samples (0 = all)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  t->add_option("--hidden", a.hidden, "hidden layer widths for mlp / mlp2 / fc, e.g. --hidden 256,128")
      ->delimiter(',')->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 24));
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
  t->add_option("--checkpoint-dir", a.checkpoint_dir,
                "save checkpoints here (weights with PyTorch state_dict names + training state) at every epoch end; "
                "DIR/latest.safetensors is always the newest complete save");
  t->add_option("--checkpoint-every", a.checkpoint_every, "also save every N optimizer steps (0 = epoch ends only)")
      ->check(sprint::cli::StrictRange<int64_t>(0, int64_t{1} << 40))
      ->capture_default_str();
  t->add_option("--keep", a.keep, "checkpoints kept in --checkpoint-dir (older ones are deleted)")
      ->check(sprint::cli::StrictRange<int>(1, 1 << 20))->capture_default_str();
  t->add_option("--resume", a.resume,
                "continue the run saved in this checkpoint directory, bit for bit, with its stored configuration "
                "(only --report, --tensorboard, --progress and --log-level may be given with it)");
  t->add_option("--init", a.init,
                "start from the weights in this .safetensors file or checkpoint directory (PyTorch state_dict names)");
  t->add_flag("--init-partial", a.init_partial,
              "with --init: load the tensors that match by name and shape, list the rest (PyTorch's strict=False)");
  t->add_option("--on-nonfinite", a.on_nonfinite,
                "a non-finite training loss: stop (one error line, exit code 6, report status \"diverged\") | continue")
      ->capture_default_str();
  t->add_option("--samples", a.random_samples, "random data set: number of samples (80% train, 20% test)")
      ->check(sprint::cli::StrictRange(int64_t{10}, int64_t{1} << 30))->capture_default_str();
  t->add_option("--features", a.random_features, "random data set: features per sample")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  t->add_option("--classes", a.random_classes, "random data set: number of classes")
      ->check(sprint::cli::StrictRange(int64_t{2}, int64_t{1} << 20))->capture_default_str();
  t->footer(
      "Examples:\n"
      "  sprint train                                   # MLP on FashionMNIST, 3 epochs, SGD lr 0.01 momentum 0.9\n"
      "  sprint train --model cnn --epochs 1 --report run.json\n"
      "  sprint train --dataset random --model mlp2 --samples 100 --features 10");
}

void add_bench(CLI::App& app, sprint::cli::BenchArgs& a) {
  auto* b = app.add_subcommand("bench", "Run a seed's comparison and write RESULTS.md with its table and plots");
  b->add_option("name", a.name, "cpu-vs-gpu | optimizations | speedrun | libraries | spectrain | fish (--list describes them)");
  b->add_flag("--list", a.list, "list the benchmarks");
  b->add_option("--out", a.out, "directory for RESULTS.md, the plots and every run's report and log");
  b->add_flag("--quick", a.quick, "the small variant: 1 epoch on a subset (cpu-vs-gpu: 10000 samples; "
                                  "optimizations: 1024 CIFAR-10 images; speedrun: 2048; libraries: batch 4, 2 profiled steps)");
  b->add_option("--repeats", a.repeats, "runs of each configuration (median and spread; default 3, 1 with --quick)")
      ->check(sprint::cli::StrictRange(1, 1000));
  b->add_option("--device", a.device, "auto | cpu | cuda: where rows that name no device run")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  b->add_option("--epochs", a.epochs, "override every run's epochs")->check(sprint::cli::StrictRange(1e-3, 1e6));
  b->add_option("--limit-train", a.limit_train, "override: the first N training samples")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40));
  b->add_option("--limit-test", a.limit_test, "override: the first N test samples")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40));
  b->add_option("--dataset", a.dataset, "override the data set (cpu-vs-gpu on fashion-mnist, say)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10"}));
  b->add_option("--data-dir", a.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  b->add_option("--progress", a.progress, "live progress line on stderr: auto (when a terminal) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  b->add_option("--model", a.model, "fish: the network (default resnet34, the paper's; --quick: cnn)");
  b->add_option("--keeps", a.keeps, "fish: keep ratios of the masks (default 0.005,0.02,0.1)")
      ->delimiter(',')->check(sprint::cli::StrictRange(1e-6, 1.0));
  b->add_option("--merge-every", a.merge_every, "fish: Table 3's optimizer steps between merges (default 500)")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40));
  b->add_option("--fisher-samples", a.fisher_samples,
                "fish: examples the Fisher information sums over (default 1024 for Table 4, 256 for Table 3)")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40));
  b->add_option("--batch-size", a.batch_size, "fish: every run's batch, per rank in Table 3 (default 512)")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20));
  b->add_option("--peak-lr", a.peak_lr, "fish: the schedule's peak learning rate (default 0.08)")
      ->check(sprint::cli::StrictRange(1e-9, 1e3));
  b->add_option("--stages", a.stages, "spectrain: pipeline depths, one set of pipelined rows each (default 2)")
      ->delimiter(',')->check(sprint::cli::StrictRange(2, 64));
  b->footer("Examples:\n  sprint bench --list\n  sprint bench optimizations --quick --repeats 3 --out bench/opt\n"
            "  sprint bench spectrain --quick --stages 2,4 --out bench/spectrain\n"
            "  sprint bench fish --quick --out bench/fish");
}

void add_plot(CLI::App& app, sprint::cli::PlotArgs& a) {
  auto* p = app.add_subcommand("plot", "Draw loss and test accuracy per epoch of saved --report files (gnuplot)");
  p->add_option("reports", a.reports, "JSON files written by sprint train --report; one series each")->required();
  p->add_option("--out", a.out, "directory for loss.png and accuracy.png (or .svg); created when missing")
      ->required();
  p->add_option("--format", a.format, "png | svg | both")->check(CLI::IsMember({"png", "svg", "both"}))
      ->capture_default_str();
  p->footer("Example:\n  sprint plot runs/sgd.json runs/adam.json --out plots --format both");
}

void add_eval(CLI::App& app, sprint::cli::EvalArgs& a) {
  auto* e = app.add_subcommand("eval", "Evaluate saved weights on a data set, or write the logits of an array");
  std::vector<std::string> models;
  for (const auto& m : sprint::nn::model_catalog()) models.push_back(m.name);
  e->add_option("-m,--model", a.model, "the model the weights belong to")->required()->check(CLI::IsMember(models));
  e->add_option("--checkpoint", a.checkpoint, "a .safetensors file or a checkpoint directory")->required();
  e->add_option("-d,--dataset", a.dataset, "report accuracy and loss on this data set's test split")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10"}));
  e->add_option("--inputs", a.inputs, "float32 .npy (N, C, H, W) or (N, F) of already normalised inputs");
  e->add_option("--logits", a.logits, "with --inputs: write the float32 (N, classes) logits to this .npy file");
  e->add_option("--input-shape", a.input_shape,
                "--inputs: the model's input as CxHxW or F (default: the array's shape without N)");
  e->add_option("--num-classes", a.num_classes, "--inputs: the model's number of classes")
      ->check(sprint::cli::StrictRange(int64_t{2}, int64_t{1} << 20))->capture_default_str();
  e->add_option("--hidden", a.hidden, "hidden layer widths of mlp / mlp2 / fc, as trained")
      ->delimiter(',')->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 24));
  e->add_flag("--share-weights", a.share_weights, "the resnet was trained with --share-weights");
  e->add_option("--tta", a.tta, "--dataset: test-time augmentation 0 | 1 | 2 (as sprint train --tta)")
      ->capture_default_str();
  e->add_option("--batch-size", a.batch_size, "evaluation batch size")->check(sprint::cli::StrictRange(1, 1 << 20))->capture_default_str();
  e->add_option("--limit-test", a.limit_test, "use only the first N test samples (0 = all)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  e->add_option("--data-dir", a.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  e->add_option("--report", a.report, "--dataset: write {model, dataset, checkpoint, test_accuracy, test_loss} JSON");
  e->add_option("-j,--threads", a.threads, "CPU compute threads: auto | N")->capture_default_str();
  e->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  e->add_option("--memory-format", a.memory_format, "activation layout: auto | nchw | nhwc | blocked")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc", "blocked"}))->capture_default_str();
  e->footer(
      "Examples:\n"
      "  sprint eval --model cnn --checkpoint runs/cnn --dataset fashion-mnist\n"
      "  sprint eval --model resnet18 --checkpoint w.safetensors --inputs x.npy --logits y.npy");
}

void add_fisher(CLI::App& app, sprint::cli::FisherArgs& a) {
  auto* f = app.add_subcommand("fisher", "Score a model's weights by their Fisher information and write the mask of "
                                         "the top fraction (sparse training)");
  std::vector<std::string> models;
  for (const auto& m : sprint::nn::model_catalog()) models.push_back(m.name);
  f->add_option("-m,--model", a.model, "the model")->required()->check(CLI::IsMember(models));
  f->add_option("-d,--dataset", a.dataset, "the training set the scores are taken on")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10"}))->capture_default_str();
  f->add_option("--checkpoint", a.checkpoint, "the weights scored (default: the model's initialisation from --seed)");
  f->add_option("--save-init", a.save_init,
                "without --checkpoint: also write that initialisation (the --init of the sparse run)");
  f->add_option("--method", a.method,
                "fisher (empirical Fisher, batch 1, eval mode) | random (uniform scores) | dense (every entry)")
      ->check(CLI::IsMember({"fisher", "random", "dense"}))->capture_default_str();
  f->add_option("--samples", a.samples, "fisher: training examples summed")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 40))->capture_default_str();
  f->add_option("--keep", a.keep, "fraction of all parameters kept (the classifier whole, counted in it)")
      ->check(sprint::cli::StrictRange(1e-9, 1.0))->capture_default_str();
  f->add_option("-o,--out", a.out, "the mask file (safetensors, bit-packed)")->required();
  f->add_option("--report", a.report, "write a JSON summary: counts per parameter, time");
  f->add_option("--seed", a.seed, "initialisation, example order, augmentation and random scores")->capture_default_str();
  f->add_option("--crop-pad", a.crop_pad, "augment the examples as sprint train does")->capture_default_str();
  f->add_option("--crop-mode", a.crop_mode, "reflect | zero")->capture_default_str();
  f->add_option("--flip", a.flip, "none | random | alternate")->capture_default_str();
  f->add_option("--cutout", a.cutout, "side of the zeroed square (0 = off)")->capture_default_str();
  f->add_option("--hidden", a.hidden, "hidden layer widths of mlp / mlp2 / fc")
      ->delimiter(',')->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 24));
  f->add_flag("--share-weights", a.share_weights, "the resnet shares layer1.0's two conv weights");
  f->add_option("--limit-train", a.limit_train, "use only the first N training samples (0 = all)")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 40))->capture_default_str();
  f->add_option("--data-dir", a.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  f->add_option("-j,--threads", a.threads, "CPU compute threads: auto | N")->capture_default_str();
  f->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  f->add_option("--memory-format", a.memory_format, "activation layout: auto | nchw | nhwc | blocked")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc", "blocked"}))->capture_default_str();
  f->footer(
      "Examples:\n"
      "  sprint fisher --model resnet9 --samples 256 --keep 0.02 --out mask.safetensors --save-init init.safetensors\n"
      "  sprint train --model resnet9 --dataset cifar10 --init init.safetensors --mask mask.safetensors "
      "--save-sparse small.safetensors");
}

void add_profile(CLI::App& app, sprint::cli::ProfileArgs& a) {
  auto* p = app.add_subcommand("profile", "Time training steps of a model layer by layer and print the table");
  std::vector<std::string> models;
  for (const auto& m : sprint::nn::model_catalog()) models.push_back(m.name);
  p->add_option("-m,--model", a.model, "the model to profile (as sprint train --model)")
      ->required()->check(CLI::IsMember(models));
  p->add_option("-d,--dataset", a.dataset, "fashion-mnist | mnist | cifar10 | random (feature data: the MLPs)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "random"}))->capture_default_str();
  p->add_option("--data-dir", a.data_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  p->add_option("-b,--batch-size", a.batch_size, "training batch size")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  p->add_option("--steps", a.steps, "steps profiled")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  p->add_option("--warmup", a.warmup, "steps run before the profiled ones")
      ->check(sprint::cli::StrictRange(int64_t{0}, int64_t{1} << 20))->capture_default_str();
  p->add_option("--rows", a.rows, "rows of the printed table (longest total time first)")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  p->add_option("--hidden", a.hidden, "hidden layer widths of mlp / mlp2 / fc")
      ->delimiter(',')->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 24));
  p->add_option("--features", a.random_features, "random data set: features per sample")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str();
  p->add_option("--classes", a.random_classes, "random data set: number of classes")
      ->check(sprint::cli::StrictRange(int64_t{2}, int64_t{1} << 20))->capture_default_str();
  p->add_option("-j,--threads", a.threads, "CPU compute threads: auto | N")->capture_default_str();
  p->add_option("--device", a.device, "cpu | cuda | cuda:N")->capture_default_str();
  p->add_option("--memory-format", a.memory_format, "activation layout: auto | nchw | nhwc | blocked")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc", "blocked"}))->capture_default_str();
  p->add_option("--trace", a.trace, "also write the profiled steps as a Chrome trace-event JSON file");
  p->add_option("--report", a.report, "also write a JSON report with the \"profile\" object");
  auto* pipeline = p->add_option("--pipeline", a.pipeline,
                                 "profile the stages of a K-stage pipeline (as sprint train --pipeline), a table each")
                       ->check(sprint::cli::StrictRange(1, 64));
  p->add_option("--weight-policy", a.weight_policy, "--pipeline: none | stash | spectrain | sync")
      ->check(CLI::IsMember({"none", "stash", "spectrain", "sync"}))->capture_default_str()->needs(pipeline);
  p->add_option("--micro-batches", a.micro_batches, "--weight-policy sync: micro-batches per batch")
      ->check(sprint::cli::StrictRange(int64_t{1}, int64_t{1} << 20))->capture_default_str()->needs(pipeline);
  p->footer(
      "Examples:\n"
      "  sprint profile --model mlp2 --dataset random --steps 50\n"
      "  sprint profile --model cnn --dataset cifar10 --pipeline 2 --trace stages.json\n"
      "  sprint profile --model cnn --dataset fashion-mnist --trace cnn.json   # open in https://ui.perfetto.dev");
}

/// Every subcommand's arguments, filled by one parse.
struct Parsed {
  sprint::cli::EvalArgs eval_args;
  sprint::cli::FisherArgs fisher_args;
  sprint::cli::CheckpointInfoArgs info_args;
  sprint::cli::TrainArgs train_args;
  sprint::cli::DataFetchArgs fetch_args;
  sprint::cli::PlotArgs plot_args;
  sprint::cli::BenchArgs bench_args;
  sprint::cli::ProfileArgs profile_args;
  std::optional<std::string> list_dir;
  std::string log_level = "warn";
  CLI::App* train = nullptr;
  CLI::App* eval = nullptr;
  CLI::App* fisher = nullptr;
  CLI::App* checkpoint_info = nullptr;
  CLI::App* fetch = nullptr;
  CLI::App* list = nullptr;
  CLI::App* info = nullptr;
  CLI::App* recipes = nullptr;
  CLI::App* plot = nullptr;
  CLI::App* bench = nullptr;
  CLI::App* profile = nullptr;
};

void build_app(CLI::App& app, Parsed& p) {
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sprint ") + SPRINT_VERSION);
  app.add_option("--log-level", p.log_level, "debug | info | warn | error | off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))->capture_default_str();
  add_train(app, p.train_args);
  p.train = app.get_subcommand("train");
  add_eval(app, p.eval_args);
  p.eval = app.get_subcommand("eval");
  add_fisher(app, p.fisher_args);
  p.fisher = app.get_subcommand("fisher");
  auto* checkpoint = app.add_subcommand("checkpoint", "Inspect checkpoint files");
  checkpoint->require_subcommand(1);
  p.checkpoint_info = checkpoint->add_subcommand(
      "info", "Print the tensors (name, dtype, shape, bytes) and metadata of a .safetensors file or checkpoint directory");
  p.checkpoint_info->add_option("path", p.info_args.path, "a .safetensors file or a checkpoint directory")->required();
  // An option given twice takes the last value, as argparse does (`sprint train --recipe R --epochs 2 --epochs 3`);
  // list options (--hidden 256,128) keep all their values.
  for (CLI::App* sub : {p.train, p.eval})
    for (CLI::Option* opt : sub->get_options())
      if (opt->get_expected_max() <= 1) opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  auto* data = app.add_subcommand("data", "Install and inspect data sets");
  data->require_subcommand(1);
  p.fetch = data->add_subcommand("fetch", "Download, convert and verify (md5) data sets into the data directory");
  p.fetch->add_option("names", p.fetch_args.names, "mnist | fashion-mnist | cifar10")
      ->required()->check(CLI::IsMember({"mnist", "fashion-mnist", "cifar10"}));
  p.fetch->add_option("--data-dir", p.fetch_args.data_dir,
                      "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");
  p.fetch->add_flag("--force", p.fetch_args.force, "fetch again even if already installed and verified");
  p.fetch->add_option("--progress", p.fetch_args.progress,
                      "live progress line on stderr while a step runs: auto (when a terminal) | on | off")
      ->check(CLI::IsMember({"auto", "on", "off"}))->capture_default_str();
  p.list = data->add_subcommand("list", "Show which data sets are installed");
  p.list->add_option("--data-dir", p.list_dir, "data directory (default: $SPRINT_DATA, else ~/.cache/sprint)");

  add_plot(app, p.plot_args);
  p.plot = app.get_subcommand("plot");
  add_bench(app, p.bench_args);
  p.bench = app.get_subcommand("bench");
  add_profile(app, p.profile_args);
  p.profile = app.get_subcommand("profile");
  p.info = app.add_subcommand("info", "Show the build configuration, CPU threads and CUDA devices");
  p.recipes = app.add_subcommand("recipes", "List the training recipes (sprint train --recipe NAME)");
}

/// CLI11 parses a vector in reverse order.
void parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());
  app.parse(args);
}

/// `args` with the recipe of `sprint train --recipe R` merged in (options the command line gives stay as given),
/// or nullopt when there is no recipe (or the arguments do not parse: the real parse reports that).
std::optional<std::vector<std::string>> with_recipe(const std::vector<std::string>& args) {
  CLI::App probe;
  Parsed p;
  build_app(probe, p);
  try {
    parse(probe, args);
  } catch (const CLI::ParseError&) {
    return std::nullopt;
  }
  if (!p.train->parsed() || !p.train_args.recipe) return std::nullopt;
  std::vector<std::string> given;
  for (const CLI::Option* opt : p.train->get_options())
    if (opt->count() > 0 && !opt->get_lnames().empty()) given.push_back(opt->get_lnames().front());
  const sprint::cli::Recipe recipe = sprint::cli::load_recipe(*p.train_args.recipe);
  for (const auto& [key, tokens] : recipe.options)
    if (p.train->get_option_no_throw("--" + key) == nullptr)
      SPRINT_THROW(sprint::InvalidArgument, "recipe {}: '{}' is not an option of sprint train (see sprint train --help)",
                   recipe.path.string(), key);
  return sprint::cli::with_recipe(args, recipe, given);
}

}  // namespace

/// One line on stderr for an error that reached the top, and its exit code (exit_codes.h). The source location of
/// a failed check only with --log-level debug.
int report_error(const std::exception& e) {
  const auto* error = dynamic_cast<const sprint::Error*>(&e);
  const sprint::cli::ExitCode code = sprint::cli::exit_code_for(e);
  std::string where;
  if (error && !error->where().empty() && sprint::log_level() <= sprint::LogLevel::kDebug)
    where = " [" + error->where() + "]";
  if (!error && dynamic_cast<const std::filesystem::filesystem_error*>(&e)) {
    const auto& fe = static_cast<const std::filesystem::filesystem_error&>(e);
    std::fprintf(stderr, "sprint: error: %s: %s\n", fe.path1().c_str(), fe.code().message().c_str());
    return static_cast<int>(sprint::cli::ExitCode::kIo);
  }
  std::fprintf(stderr, "sprint: error: %s%s%s\n", error ? "" : "unexpected: ", e.what(), where.c_str());
  return static_cast<int>(code);
}

/// A command-line parse error as one line naming what was wrong; --help and --version print as CLI11 does.
int report_parse_error(CLI::App& app, const CLI::ParseError& e, const std::vector<std::string>& args) {
  if (e.get_exit_code() == 0) return app.exit(e);
  std::string message = e.what();
  // An unknown first word: say which, and what the commands are.
  if (!args.empty() && !args[0].starts_with("-")) {
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands({})) known |= sub->get_name() == args[0];
    if (!known) {
      std::string names;
      for (const CLI::App* sub : app.get_subcommands({})) names += (names.empty() ? "" : ", ") + sub->get_name();
      message = fmt::format("unknown command '{}' (commands: {})", args[0], names);
    }
  }
  std::fprintf(stderr, "sprint: error: %s (see sprint --help)\n", message.c_str());
  return static_cast<int>(sprint::cli::ExitCode::kUsage);
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (auto resumed = sprint::cli::with_resume(args)) args = std::move(*resumed);
    else if (auto merged = with_recipe(args)) args = std::move(*merged);
  } catch (const std::exception& e) {
    return report_error(e);
  }
  CLI::App app{"sprint: fast neural-network training in C++20 and CUDA (version " SPRINT_VERSION ")", "sprint"};
  Parsed p;
  build_app(app, p);
  try {
    parse(app, args);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e, args);
  }

  try {
    sprint::set_log_level(sprint::parse_log_level(p.log_level));
    if (p.train->parsed()) {
      for (const CLI::Option* opt : p.train->get_options()) {
        if (opt->get_lnames().empty()) continue;  // --help
        std::string value = opt->get_default_str();
        if (opt->count() > 0) {
          value.clear();
          for (const std::string& r : opt->results()) value += (value.empty() ? "" : ",") + r;
        }
        p.train_args.resolved.emplace_back(opt->get_lnames().front(), value);
        if (opt->count() > 0) p.train_args.given.push_back("--" + opt->get_lnames().front());
      }
      // The command a checkpoint stores: this one, without --resume and the options of `sprint` itself.
      const auto train_at = std::find(args.begin(), args.end(), "train");
      for (auto it = train_at; it != args.end(); ++it) {
        if (*it == "--resume") {
          ++it;
          if (it == args.end()) break;
          continue;
        }
        if (it->starts_with("--resume=")) continue;
        p.train_args.command.push_back(*it);
      }
      return sprint::cli::run_train(p.train_args);
    }
    if (p.eval->parsed()) return sprint::cli::run_eval(p.eval_args);
    if (p.fisher->parsed()) return sprint::cli::run_fisher(p.fisher_args);
    if (p.checkpoint_info->parsed()) return sprint::cli::run_checkpoint_info(p.info_args);
    if (p.fetch->parsed()) return sprint::cli::run_data_fetch(p.fetch_args);
    if (p.list->parsed()) return sprint::cli::run_data_list(p.list_dir);
    if (p.plot->parsed()) return sprint::cli::run_plot(p.plot_args);
    if (p.bench->parsed()) {
      const auto bench_at = std::find(args.begin(), args.end(), "bench");
      if (bench_at != args.end()) p.bench_args.given.assign(std::next(bench_at), args.end());
      return sprint::cli::run_bench(p.bench_args);
    }
    if (p.profile->parsed()) return sprint::cli::run_profile(p.profile_args);
    if (p.info->parsed()) return sprint::cli::run_info();
    if (p.recipes->parsed()) return sprint::cli::run_recipes();
  } catch (const std::exception& e) {
    return report_error(e);
  }
  return 0;
}
