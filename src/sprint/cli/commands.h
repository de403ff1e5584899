// commands.h: the `sprint` subcommands as plain functions over typed argument structs. main.cpp (the only file
// that includes CLI11) parses the command line into these structs; everything here is testable without it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sprint::cli {

struct TrainArgs {
  std::optional<std::string> recipe;  ///< the --recipe given (its settings are merged in before parsing)
  /// Every option's value after parsing (command line, recipe, defaults), for the report.
  std::vector<std::pair<std::string, std::string>> resolved;
  /// The long names of the options the command line (or recipe) gave, e.g. "--samples".
  std::vector<std::string> given;
  bool was_given(std::string_view name) const { return std::find(given.begin(), given.end(), name) != given.end(); }
  std::string model = "mlp";
  std::string dataset = "fashion-mnist";
  double epochs = 3;  ///< may be fractional: ceil(epochs) epochs, the last cut at epochs · steps per epoch
  int64_t batch_size = 64;
  int64_t eval_batch_size = 1000;
  std::string optimizer = "sgd";  ///< sgd | adam | adamw
  std::optional<double> lr;       ///< default: 0.01 for sgd, 0.001 for adam / adamw
  std::string schedule = "constant";  ///< constant | onecycle | cosine | step
  double warmup_pct = 0.3;            ///< onecycle: fraction of the steps spent rising
  int64_t step_epochs = 1;            ///< step: epochs between decays
  double gamma = 0.1;                 ///< step: decay factor
  std::string lr_knots;               ///< piecewise: "epoch:lr,epoch:lr,..." (fractional epochs allowed)
  double momentum = 0.9;
  double weight_decay = 0.0;
  bool nesterov = false;
  double label_smoothing = 0.0;
  bool share_weights = false;  ///< resnets: layer1.0.conv2 uses layer1.0.conv1's weight
  std::string amp = "off";                ///< mixed precision: off | bf16 | f16
  std::string cpu_kernels = "fast";       ///< fast (oneDNN, Winograd, AVX2 GEMM) | reference (the plain loops)
  std::string loss_scale = "auto";        ///< auto (dynamic with --amp f16) | dynamic | off
  double loss_scale_init = 65536.0;
  int64_t loss_scale_interval = 2000;
  std::string loss_reduction = "mean";  ///< cross-entropy models: mean | sum over the batch
  int64_t max_steps = 0;                ///< 0: no limit
  bool drop_last = false;
  int64_t lookahead = 0;                ///< weight averaging every N optimizer steps (0: off)
  double bn_bias_lr_scale = 1.0;        ///< BatchNorm biases: lr x this, weight decay / this
  int accumulate_steps = 1;
  // pipeline model parallelism (train/pipeline.h)
  int pipeline = 0;                       ///< stages (0: no pipeline)
  std::string weight_policy = "spectrain";  ///< none | stash | spectrain | sync
  int64_t micro_batches = 1;              ///< sync: micro-batches per mini-batch
  std::vector<int64_t> pipeline_boundaries;  ///< first layer of each stage; empty: balanced by measured time
  std::vector<std::string> stage_devices;    ///< one device per stage; empty: every stage on --device
  // data parallelism (dist/process_group.h): under mpirun, one rank per process
  bool distributed = false;
  double dist_timeout = 300.0;  ///< seconds a collective may wait for the other ranks
  std::string dist_backend = "auto";  ///< auto (nccl on CUDA when built, else mpi) | mpi | nccl
  double bucket_mb = 25.0;      ///< gradient all-reduce bucket size, MiB
  std::string dist_overlap = "on";  ///< "on": buckets all-reduced during backward; "off": after it
  bool sync_batchnorm = false;      ///< BatchNorm statistics over every rank's batch
  int64_t merge_every = 0;      ///< local SGD: average the ranks' weights every N steps (0: gradient averaging)
  // sparse training (train/parameter_mask.h)
  std::optional<std::string> mask;       ///< train only this mask's entries (sprint fisher --out)
  std::string mask_update = "freeze";    ///< freeze (entries outside: untouched) | grad-only (gradient masked)
  int64_t mask_after_epochs = 0;         ///< the first N epochs train densely (and merge densely)
  std::optional<std::string> save_sparse;  ///< at the end: the masked entries on top of --init
  uint64_t seed = 0;
  std::string threads = "auto";  ///< compute threads: auto | N >= 1 (resolve_threads)
  int workers = 1;
  std::string device = "cpu";
  std::string resident = "auto";  ///< data set on the device: auto (on for CUDA) | on | off
  std::string memory_format = "auto";  ///< auto | nchw | nhwc | blocked (see --help)
  bool cuda_graph = false;
  std::string tf32 = "off";           ///< f32 GEMMs/convolutions on TF32 tensor cores (cuda): on | off
  std::string deterministic = "on";   ///< deterministic library algorithms only (cuda): on | off
  std::optional<std::string> data_dir;
  std::optional<std::string> report;
  std::optional<std::string> tensorboard;  ///< write TensorBoard scalars (event file) into this directory
  // profiling (profile/profiler.h)
  bool profile = false;                ///< time profile_steps steps after profile_warmup, print the table
  int64_t profile_steps = 20;
  int64_t profile_warmup = 5;
  int64_t profile_rows = 25;           ///< rows of the printed table (the report keeps them all)
  std::optional<std::string> trace;    ///< with profile: write the profiled steps as a Chrome trace (JSON)
  /// Set by `sprint profile`: train profile_warmup + profile_steps steps, without evaluation, the epoch table or
  /// the final accuracy; print the profile only.
  bool profile_only = false;
  std::string progress = "auto";  ///< auto | on | off
  int64_t limit_train = 0;        ///< 0 = the whole training set
  int64_t limit_test = 0;
  std::vector<int64_t> hidden;
  // training augmentation (image data sets) and test-time augmentation
  int crop_pad = 0;                  ///< translate by up to ±N pixels (pad + random crop); 0 = off
  std::string crop_mode = "reflect";  ///< reflect | zero
  std::string flip = "none";          ///< none | random | alternate
  int cutout = 0;                     ///< side of a square of zeros; 0 = off
  int tta = 0;                        ///< 0 | 1 (mirror) | 2 (mirror + 1-px translations)
  // checkpoints
  std::optional<std::string> checkpoint_dir;  ///< save here at every epoch end (and every checkpoint_every steps)
  int64_t checkpoint_every = 0;               ///< also every N optimizer steps (0: epoch ends only)
  int keep = 3;                               ///< saves kept in checkpoint_dir
  std::optional<std::string> resume;          ///< continue the run saved in this directory
  std::optional<std::string> init;            ///< start from these weights (file or checkpoint directory)
  bool init_partial = false;                  ///< --init loads what matches and lists the rest
  std::string on_nonfinite = "stop";          ///< a non-finite training loss: stop (exit 6) | continue
  /// The arguments after `sprint` that started this run (recipe merged in, --resume left out): a checkpoint
  /// stores them so that --resume replays the same configuration.
  std::vector<std::string> command;
  // random data set (seed 000, experiment 1)
  int64_t random_samples = 100;
  int64_t random_features = 10;
  int64_t random_classes = 2;
};

struct EvalArgs {
  std::string model;
  std::string checkpoint;                ///< a .safetensors file or a checkpoint directory
  std::optional<std::string> dataset;    ///< evaluate on its test split
  std::optional<std::string> inputs;     ///< or: float32 (N, C, H, W) / (N, F) .npy, already normalised
  std::optional<std::string> logits;     ///< --inputs: write the float32 (N, K) logits here (.npy)
  std::optional<std::string> data_dir;
  std::optional<std::string> report;     ///< JSON with the accuracy and loss (--dataset)
  std::string input_shape;               ///< --inputs without a dataset: "CxHxW" or "F" (default: from the array)
  int64_t num_classes = 10;
  std::vector<int64_t> hidden;
  bool share_weights = false;
  int64_t batch_size = 1000;
  int64_t limit_test = 0;
  int tta = 0;
  std::string threads = "auto";
  std::string device = "cpu";
  std::string memory_format = "auto";
};

/// `sprint profile`: W + N training steps of a model, then the profile table (and a trace).
struct ProfileArgs {
  std::string model;
  std::string dataset = "random";
  std::optional<std::string> data_dir;
  int64_t batch_size = 64;
  int64_t steps = 20;
  int64_t warmup = 5;
  int64_t rows = 25;
  std::string threads = "auto";
  std::string device = "cpu";
  std::string memory_format = "auto";
  std::optional<std::string> trace;
  std::optional<std::string> report;
  std::vector<int64_t> hidden;
  int64_t random_features = 10;  ///< the random data set: features and classes (samples follow the batch size)
  int64_t random_classes = 2;
  uint64_t seed = 0;
  int pipeline = 0;                         ///< stages (0: no pipeline); each stage prints a table of its own
  std::string weight_policy = "spectrain";  ///< as sprint train's
  int64_t micro_batches = 1;
};

/// `sprint fisher`: scores of a model's weights and the mask of the top fraction.
struct FisherArgs {
  std::string model;
  std::string dataset = "cifar10";
  std::optional<std::string> checkpoint;  ///< the weights scored; default: the model's initialisation (--seed)
  std::optional<std::string> save_init;   ///< without --checkpoint: write that initialisation (a sparse run's base)
  std::string method = "fisher";          ///< fisher | random | dense
  int64_t samples = 256;
  double keep = 0.02;
  std::string out;
  std::optional<std::string> report;
  uint64_t seed = 0;
  int crop_pad = 0;
  std::string crop_mode = "reflect";
  std::string flip = "none";
  int cutout = 0;
  std::vector<int64_t> hidden;
  bool share_weights = false;
  std::optional<std::string> data_dir;
  int64_t limit_train = 0;
  std::string threads = "auto";
  std::string device = "cpu";
  std::string memory_format = "auto";
};

struct CheckpointInfoArgs {
  std::string path;  ///< a .safetensors file or a checkpoint directory
};

struct PlotArgs {
  std::vector<std::string> reports;  ///< sprint train --report files, one series each
  std::string out;                   ///< the directory for loss.png / accuracy.png (created when missing)
  std::string format = "png";        ///< png | svg | both
};

struct BenchArgs {
  std::string name;                ///< cpu-vs-gpu | optimizations
  std::optional<std::string> out;  ///< directory for RESULTS.md, plots and each run's report and log
  bool list = false;
  bool quick = false;
  std::optional<int> repeats;  ///< runs of each configuration: 3, or 1 with --quick
  std::string device = "auto";  ///< auto (cuda when present) | cpu | cuda, for benches whose rows name no device
  std::optional<double> epochs;
  std::optional<int64_t> limit_train, limit_test;
  std::optional<std::string> dataset, data_dir;
  std::vector<std::string> given;  ///< the bench's own arguments as given, for RESULTS.md
  std::string progress = "auto";    ///< live progress line on stderr: auto | on | off
  // fish only (bench_fish.cpp)
  std::optional<std::string> model;      ///< the network (default: the paper's resnet34; --quick: cnn)
  std::vector<double> keeps;             ///< keep ratios (default 0.005, 0.02, 0.1)
  std::optional<int64_t> merge_every;    ///< Table 3: optimizer steps between merges
  std::optional<int64_t> fisher_samples;  ///< examples the Fisher information is summed over
  std::optional<double> peak_lr;         ///< the schedule's peak learning rate
  std::optional<int64_t> batch_size;     ///< every run's batch (per rank in Table 3)
  // spectrain only
  std::vector<int> stages;  ///< pipeline depths, one set of pipelined rows each (default: 2)
};

struct DataFetchArgs {
  std::vector<std::string> names;
  std::optional<std::string> data_dir;
  bool force = false;
  std::string progress = "auto";  ///< live progress line on stderr: auto | on | off
};

/// --progress: "on" | "off" | "auto" (a live line when stderr is a terminal and $CI is unset).
bool progress_enabled(const std::string& mode);

/// --threads: "auto" (nullopt) or a whole number from 1 to kMaxThreads. Throws InvalidArgument otherwise.
std::optional<int> parse_threads(const std::string& value);
constexpr int kMaxThreads = 1024;

/// The compute thread count `sprint train` uses for `model`: an explicit --threads N as given; "auto" resolves to
/// `available_cores` for the convolutional models (cnn, resnet9/10/18, vgg16, airbench94) and to 1 for the MLPs (mlp, mlp2, fc),
/// where one thread measured fastest (small GEMMs; see docs/benchmarks.md). Throws InvalidArgument like
/// parse_threads.
int resolve_threads(const std::string& value, const std::string& model, int available_cores);

/// Each returns the process exit code; errors are thrown as sprint::Error and reported by main().
int run_train(const TrainArgs& args);
int run_profile(const ProfileArgs& args);
int run_eval(const EvalArgs& args);
int run_fisher(const FisherArgs& args);
int run_checkpoint_info(const CheckpointInfoArgs& args);
int run_plot(const PlotArgs& args);
int run_bench(const BenchArgs& args);
/// `sprint bench fish` (bench_fish.cpp): FISH's two tables, each row a `sprint fisher` / `sprint train` child.
int run_bench_fish(const BenchArgs& args);
int run_data_fetch(const DataFetchArgs& args);
int run_data_list(const std::optional<std::string>& data_dir);
int run_info();
int run_recipes();

/// `sprint train --resume DIR [--report F] [--progress M]`: the command stored in DIR's checkpoint with --resume
/// DIR and the given overrides; nullopt for any other command line.
std::optional<std::vector<std::string>> with_resume(const std::vector<std::string>& args);

}  // namespace sprint::cli
