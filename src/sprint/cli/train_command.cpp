// train_command.cpp: `sprint train`: load data, build the model and optimizer, run the epochs, print the table,
// write the JSON report and the TensorBoard scalars; with --profile, the profile table and the trace (also what
// `sprint profile` runs, profile_command.cpp).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <optional>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/cli/augment_flags.h"
#include "sprint/cli/commands.h"
#include "sprint/cli/sparse_run.h"
#include "sprint/config.h"
#include "sprint/core/log.h"
#include "sprint/data/augment.h"
#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "sprint/data/output_file.h"
#include "sprint/dist/nccl_process_group.h"
#include "sprint/dist/process_group.h"
#include "sprint/nn/mixed_precision.h"
#include "sprint/nn/models.h"
#include "sprint/ops/conv.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/sgd.h"
#include "sprint/profile/chrome_trace.h"
#include "sprint/train/pipeline_profile.h"
#include "sprint/train/pipeline_trace.h"
#include "sprint/profile/event_writer.h"
#include "sprint/profile/profile_summary.h"
#include "sprint/profile/profiler.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/checkpoint.h"
#include "sprint/train/layouts.h"
#include "sprint/train/report.h"
#include "sprint/train/sparse_checkpoint.h"
#include "sprint/train/trainer.h"

namespace sprint::cli {
namespace {

struct Datasets {
  data::Dataset train, test;
};

Datasets load_datasets(const TrainArgs& a) {
  Datasets d;
  if (a.dataset == "random") {
    // One draw from a fixed teacher, split 80/20 so that train and test share it.
    const data::Dataset all =
        data::make_random_dataset(a.random_samples, a.random_features, a.random_classes, a.seed);
    const int64_t n_train = std::max<int64_t>(1, a.random_samples * 4 / 5);
    d.train = data::subset(all, 0, n_train);
    d.test = data::subset(all, n_train, a.random_samples - n_train);
  } else {
    const auto dir = data::resolve_data_dir(a.data_dir ? std::optional<std::filesystem::path>(*a.data_dir)
                                                       : std::nullopt);
    d.train = data::load_dataset(a.dataset, data::Split::kTrain, dir);
    d.test = data::load_dataset(a.dataset, data::Split::kTest, dir);
  }
  if (a.limit_train > 0 && a.limit_train < d.train.size()) d.train = data::subset(d.train, 0, a.limit_train);
  if (a.limit_test > 0 && a.limit_test < d.test.size()) d.test = data::subset(d.test, 0, a.limit_test);
  return d;
}


/// While alive, SIGINT and SIGTERM set a flag (the trainer stops after the current step) instead of killing the
/// process; a second signal kills it as usual. The previous handlers come back on destruction.
class StopOnSignals {
 public:
  StopOnSignals() {
    flag().store(false);
    struct sigaction sa {};
    sa.sa_handler = [](int) { flag().store(true); };
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopOnSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
  const std::atomic<bool>& requested() const { return flag(); }

 private:
  static std::atomic<bool>& flag() {
    static std::atomic<bool> f{false};
    return f;
  }
  struct sigaction old_int_ {}, old_term_ {};
};

/// Exit code of a run ended by SIGINT/SIGTERM after it saved its state (128 + SIGINT, as shells report it).
constexpr int kInterruptedExitCode = 130;

/// The TensorBoard scalars of one epoch, at step = optimizer steps done, written out at once.
void write_epoch_scalars(profile::EventWriter& events, const train::EpochStats& e, double lr, int64_t step) {
  events.add_scalar("train/loss", e.train_loss, step);
  events.add_scalar("test/loss", e.test.loss, step);
  events.add_scalar("test/accuracy", e.test.accuracy, step);
  events.add_scalar("train/samples_per_second", e.samples_per_second, step);
  events.add_scalar("lr", lr, step);
  events.flush();
}

/// After the run: the profile table on stdout, the report's "profile", the --trace file.
void finish_profile(const TrainArgs& a, const profile::Profiler& profiler, train::RunReport& report) {
  const profile::ProfileSummary summary = profile::summarize(profiler.data());
  std::printf("%s", profile::format_profile_table(summary, static_cast<size_t>(a.profile_rows)).c_str());
  std::fflush(stdout);
  report.profile = profile::profile_json(summary);
  if (a.trace) profile::write_chrome_trace(*a.trace, profiler.data());
}

}  // namespace

bool progress_enabled(const std::string& mode) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  return train::ProgressLine::auto_detect();
}

data::AugmentOptions augment_from_flags(int crop_pad, const std::string& crop_mode, const std::string& flip,
                                        int cutout) {
  SPRINT_CHECK(crop_pad >= 0, "--crop-pad {}: expected a whole number >= 0 (0 = off)", crop_pad);
  SPRINT_CHECK(cutout >= 0, "--cutout {}: expected a whole number >= 0 (0 = off)", cutout);
  data::AugmentOptions o{.crop_padding = crop_pad, .cutout = cutout};
  try {
    o.crop_pad_mode = data::parse_crop_pad_mode(crop_mode);
  } catch (const InvalidArgument& e) {
    SPRINT_THROW(InvalidArgument, "--crop-mode: {}", e.what());
  }
  try {
    o.flip = data::parse_flip_mode(flip);
  } catch (const InvalidArgument& e) {
    SPRINT_THROW(InvalidArgument, "--flip: {}", e.what());
  }
  return o;
}

std::optional<int> parse_threads(const std::string& value) {
  if (value == "auto") return std::nullopt;
  int n = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (value.empty() || ec != std::errc() || ptr != end || n < 1 || n > kMaxThreads)
    SPRINT_THROW(InvalidArgument, "--threads {}: expected auto or a whole number from 1 to {}", value, kMaxThreads);
  return n;
}

int resolve_threads(const std::string& value, const std::string& model, int available_cores) {
  if (const std::optional<int> n = parse_threads(value)) return *n;
  return nn::has_convolutions(model) ? std::max(1, available_cores) : 1;
}

namespace {
/// What each stage of a pipelined run did: layers, updates, measured staleness, SpecTrain's version differences
/// and prediction error, busy and idle time.
void print_pipeline(const train::PipelineOptions& p, const train::Trainer& trainer,
                    const std::vector<train::StageReport>& stages) {
  std::string devices;
  if (!p.devices.empty()) {
    devices = " on ";
    for (const train::StageReport& s : stages) devices += (s.stage > 0 ? " | " : "") + device_name(s.device);
  }
  std::printf("pipeline: %d stages (layers %s)%s, weight policy %s%s\n", p.stages, trainer.pipeline_boundaries().c_str(),
              devices.c_str(),
              train::weight_policy_name(p.policy),
              p.policy == train::WeightPolicy::kSync ? fmt::format(", {} micro-batches", p.micro_batches).c_str() : "");
  std::printf("  stage  layers   updates  staleness mean/max  s fwd/bwd  prediction error  busy s   idle s  names\n");
  for (const train::StageReport& s : stages) {
    const std::string layers = fmt::format("{}-{}", s.first_layer, s.end_layer - 1);
    const std::string error = s.prediction_error.samples > 0 ? fmt::format("{:.3g}", s.prediction_error.relative) : "-";
    std::printf("  %5d  %-7s  %7lld  %9.2f / %-6lld  %4lld / %-3lld  %16s  %7.2f  %7.2f  %s\n", s.stage, layers.c_str(),
                static_cast<long long>(s.updates), s.mean_staleness, static_cast<long long>(s.max_staleness),
                static_cast<long long>(s.version_difference.forward),
                static_cast<long long>(s.version_difference.backward), error.c_str(), s.busy_seconds, s.idle_seconds,
                s.layer_names.c_str());
  }
  const double wall = trainer.pipeline_wall_seconds(), overlap = train::pipeline_overlap(stages, wall);
  if (wall > 0.0)
    std::printf("  the stages were busy %.2fx the training wall time (%.2f s of %.2f s): %s\n", overlap,
                overlap * wall, wall, overlap > 1.05 ? "they overlapped" : "no overlap");
}

/// The parameter groups: one, or BatchNorm biases apart (--bn-bias-lr-scale).
std::vector<optim::ParamGroup> parameter_groups(const TrainArgs& a, nn::Module& net) {
  if (a.bn_bias_lr_scale == 1.0) return optim::single_group(net);
  return optim::batch_norm_bias_groups(net, a.bn_bias_lr_scale, a.weight_decay);
}

/// The optimizer --optimizer names, over every parameter of `net`.
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainArgs& a, nn::Module& net) {
  if (a.optimizer == "sgd") {
    return std::make_unique<optim::SGD>(parameter_groups(a, net), optim::SGDOptions(a.lr.value_or(0.01))
                                                                      .with_momentum(a.momentum)
                                                                      .with_weight_decay(a.weight_decay)
                                                                      .with_nesterov(a.nesterov));
  }
  SPRINT_CHECK(!a.nesterov, "--nesterov applies to --optimizer sgd, not {}", a.optimizer);
  return std::make_unique<optim::Adam>(parameter_groups(a, net), optim::AdamOptions(a.lr.value_or(1e-3))
                                                                     .with_weight_decay(a.weight_decay)
                                                                     .decoupled(a.optimizer == "adamw"));
}

/// A finite number >= 0, optionally followed by `suffix`: {value, whether the suffix was there}; nullopt when
/// malformed.
std::optional<std::pair<double, bool>> number_with_suffix(const std::string& text, char suffix) {
  const bool suffixed = !text.empty() && text.back() == suffix;
  const std::string number = suffixed ? text.substr(0, text.size() - 1) : text;
  char* end = nullptr;
  const double v = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !std::isfinite(v) || v < 0.0) return std::nullopt;
  return std::make_pair(v, suffixed);
}

/// A --lr-knots position: epochs, or "P%" of the run's `total` steps (floor, as airbench's int(total · 0.23)).
double knot_step(const std::string& text, int64_t steps_per_epoch, int64_t total) {
  const auto v = number_with_suffix(text, '%');
  if (!v)
    SPRINT_THROW(InvalidArgument, "--lr-knots: bad position '{}' (epochs, or a percentage of the run such as 23%)",
                 text);
  if (v->second) return std::floor(v->first / 100.0 * static_cast<double>(total));
  return v->first * static_cast<double>(steps_per_epoch);
}

/// A --lr-knots value: a learning rate, or "Vx" = V times --lr.
double knot_value(const std::string& text, double lr) {
  const auto v = number_with_suffix(text, 'x');
  if (!v)
    SPRINT_THROW(InvalidArgument, "--lr-knots: bad learning rate '{}' (a value, or a multiple of --lr such as 0.2x)",
                 text);
  return v->second ? v->first * lr : v->first;
}

/// The schedule --schedule names for `steps_per_epoch` optimizer steps an epoch and `total` in the run.
std::shared_ptr<const optim::Schedule> make_schedule(const TrainArgs& a, double lr, int64_t steps_per_epoch,
                                                     int64_t total) {
  if (a.schedule == "onecycle") {
    // Momentum (SGD) or beta1 (Adam) cycles against the lr, as OneCycleLR's cycle_momentum; SGD without momentum
    // keeps none.
    const bool cycle = a.optimizer != "sgd" || a.momentum > 0.0;
    return optim::one_cycle_schedule(
        {.max_lr = lr, .total_steps = std::max<int64_t>(total, 2), .pct_start = a.warmup_pct, .cycle_momentum = cycle});
  }
  if (a.schedule == "cosine") return optim::cosine_schedule(lr, std::max<int64_t>(total, 1), 0.0);
  if (a.schedule == "step") return optim::step_schedule(lr, a.step_epochs * steps_per_epoch, a.gamma);
  if (a.schedule == "piecewise") {
    SPRINT_CHECK(!a.lr_knots.empty(), "--schedule piecewise needs --lr-knots epoch:lr,epoch:lr,...");
    std::vector<double> steps, values;
    size_t start = 0;
    while (start <= a.lr_knots.size()) {
      const size_t comma = std::min(a.lr_knots.find(',', start), a.lr_knots.size());
      const std::string knot = a.lr_knots.substr(start, comma - start);
      const size_t colon = knot.find(':');
      SPRINT_CHECK(colon != std::string::npos, "--lr-knots: '{}' is not epoch:lr", knot);
      const std::string position = knot.substr(0, colon);
      const double step = knot_step(position, steps_per_epoch, total);
      const double value = knot_value(knot.substr(colon + 1), lr);
      // In a run of a few steps a percentage may floor onto the knot before it (23% of 2 steps is step 0): the later
      // knot then takes its place, as np.interp keeps the last of equal positions.
      if (position.ends_with('%') && !steps.empty() && steps.back() == step) {
        values.back() = value;
      } else {
        steps.push_back(step);
        values.push_back(value);
      }
      start = comma + 1;
    }
    return optim::piecewise_linear_schedule(std::move(steps), std::move(values));
  }
  return optim::constant_schedule(lr);
}
}  // namespace

namespace {
// One run of `sprint train`; group: data parallelism (null: alone).
int run_train_in(const TrainArgs& a, dist::ProcessGroup* group) {
  const int threads = resolve_threads(a.threads, a.model, cpu::available_cores());
  // Output paths that cannot be written fail before any work starts, not after the first epoch.
  if (a.report) data::check_output_path(*a.report, "--report");
  if (a.checkpoint_dir) data::prepare_output_directory(*a.checkpoint_dir, "--checkpoint-dir");
  if (a.tensorboard) data::prepare_output_directory(*a.tensorboard, "--tensorboard");
  SPRINT_CHECK(a.tta >= 0 && a.tta <= 2, "--tta {}: expected 0 (off), 1 (mirror) or 2 (mirror and translations)",
               a.tta);
  // Bad values fail before any data is loaded.
  const data::AugmentOptions augment = augment_from_flags(a.crop_pad, a.crop_mode, a.flip, a.cutout);
  const auto given = [&](const char* name) { return a.was_given(name); };
  if (a.dataset != "random")
    for (const char* name : {"--samples", "--features", "--classes"})
      SPRINT_CHECK(!given(name), "{} describes the random data set; --dataset {} has its own size", name, a.dataset);
  for (const char* name : {"--profile-steps", "--profile-warmup", "--profile-rows"})
    SPRINT_CHECK(a.profile || !given(name), "{} needs --profile", name);
  SPRINT_CHECK(a.profile || a.pipeline > 0 || !a.trace, "--trace needs --profile (or --pipeline)");
  SPRINT_CHECK(!(a.profile && a.cuda_graph),
               "--profile does not combine with --cuda-graph: replayed steps call no layer the profiler could time");
  if (a.trace) data::check_output_path(*a.trace, "--trace");
  const Device device = parse_device(a.device);
  const bool resident = a.resident == "on" || (a.resident == "auto" && device.is_cuda());
  if (resident && given("--workers"))
    log_warn("--workers {} has no effect with resident data (batches are gathered on the device)", a.workers);
  DeviceContext& context = device_context(device);  // throws a clear error when CUDA is unavailable
  context.set_numerics({.allow_tf32 = a.tf32 == "on", .deterministic = a.deterministic == "on"});
  cpu_context().set_num_threads(threads);
  cpu_context().set_reference_only(a.cpu_kernels == "reference");
  const Stream stream = context.compute_stream();
  // A pipeline's stages profile themselves (one profiler per stage thread).
  const profile::ProfilerOptions profile_options{.warmup_steps = a.profile_warmup, .steps = a.profile_steps};
  std::optional<profile::Profiler> profiler;
  if (a.profile && a.pipeline == 0) profiler.emplace(stream, profile_options);

  const Datasets data = load_datasets(a);
  Generator init_rng(a.seed);
  nn::ModelOptions model_options;
  model_options.hidden = a.hidden;
  model_options.label_smoothing = a.label_smoothing;
  model_options.share_weights = a.share_weights;
  model_options.loss_reduction = a.loss_reduction == "sum" ? Reduction::kSum : Reduction::kMean;
  nn::Model model = nn::build_model(a.model, data.train.sample_shape(), data.train.num_classes, init_rng, model_options);
  if (model.init_from_data) model.init_from_data(data::normalized_images(data.train, model.init_samples));
  model.net->to_device(stream);
  const DType compute = a.amp == "bf16" ? DType::kBF16 : a.amp == "f16" ? DType::kF16 : DType::kF32;
  if (a.amp != "off") {
    if (device.is_cpu() && !ops::has_native_convolutions(stream, compute))
      log_warn("--amp {} on the CPU: its kernels are f32, so each op widens its {} operands to f32 and rounds its "
               "outputs (the numerics of mixed precision, 2-3x slower than f32 training)",
               a.amp, a.amp);
    else if (device.is_cpu())
      log_warn("--amp bf16 on the CPU: convolutions (AMX), BatchNorm and GELU run oneDNN's bf16 kernels on "
               "channels-last activations, ReLU and the residual adds bf16 loops; pooling and the classifier widen "
               "their bf16 operands to f32");
    nn::use_mixed_precision(model, compute, stream);
  }
  const bool loss_scaling = a.loss_scale == "dynamic" || (a.loss_scale == "auto" && a.amp == "f16");
  SPRINT_CHECK(loss_scaling || (!given("--loss-scale-init") && !given("--loss-scale-interval")),
               "--loss-scale-init and --loss-scale-interval set dynamic loss scaling, which is off (--loss-scale {}{})",
               a.loss_scale, a.loss_scale == "auto" ? ", without --amp f16" : "");
  SPRINT_CHECK(!(loss_scaling && a.cuda_graph),
               "dynamic loss scaling decides on the host whether each step runs: it does not combine with --cuda-graph "
               "(use --amp bf16, which needs no loss scaling)");
  SPRINT_CHECK(!(a.init && a.resume), "--init and --resume exclude each other (a resumed run has its own weights)");
  SPRINT_CHECK(!a.init_partial || a.init, "--init-partial needs --init FILE");
  SPRINT_CHECK(a.keep >= 1, "--keep {}: expected a whole number >= 1", a.keep);
  SPRINT_CHECK(a.checkpoint_every >= 0, "--checkpoint-every {}: expected a whole number >= 0", a.checkpoint_every);
  SPRINT_CHECK(a.checkpoint_every == 0 || a.checkpoint_dir, "--checkpoint-every needs --checkpoint-dir DIR");
  if (a.init) {
    const std::filesystem::path path = train::resolve_checkpoint(*a.init);
    const train::LoadResult r = train::load_model_state(stream, *model.net, train::read_weights(path), !a.init_partial);
    std::printf("initialised from %s: %zu tensors loaded\n", path.c_str(), r.loaded.size());
    for (const std::string& name : r.missing) std::printf("  kept the model's own initialisation: %s\n", name.c_str());
    for (const std::string& name : r.mismatched) std::printf("  skipped (shape differs): %s\n", name.c_str());
    for (const std::string& name : r.unexpected) std::printf("  skipped (not in the model): %s\n", name.c_str());
  }

  const std::unique_ptr<optim::Optimizer> optimizer_ptr = make_optimizer(a, *model.net);
  optim::Optimizer& optimizer = *optimizer_ptr;
  SparseRun sparse(a, model, optimizer, group);
  const int64_t batches =
      a.drop_last ? data.train.size() / a.batch_size : (data.train.size() + a.batch_size - 1) / a.batch_size;
  const int64_t steps_per_epoch = (batches + a.accumulate_steps - 1) / a.accumulate_steps;
  // A fractional --epochs runs ceil(epochs) epochs and stops after ceil(epochs · steps per epoch) steps.
  const auto n_epochs = static_cast<int64_t>(std::ceil(a.epochs));
  int64_t max_steps = a.max_steps;
  if (static_cast<double>(n_epochs) != a.epochs) {
    const auto cut = static_cast<int64_t>(std::ceil(a.epochs * static_cast<double>(steps_per_epoch)));
    max_steps = max_steps > 0 ? std::min(max_steps, cut) : cut;
  }
  const int64_t total_steps = max_steps > 0 ? std::min(max_steps, n_epochs * steps_per_epoch)
                                            : n_epochs * steps_per_epoch;
  const std::shared_ptr<const optim::Schedule> schedule =
      make_schedule(a, optimizer.lr(), steps_per_epoch, total_steps);
  train::TrainerOptions options;
  options.process_group = group;
  options.bucket_bytes = std::max<int64_t>(1, static_cast<int64_t>(a.bucket_mb * 1024.0 * 1024.0));
  options.overlap_allreduce = a.dist_overlap == "on";
  options.sync_batch_norm = a.sync_batchnorm;
  if (sparse.averager() != nullptr) {
    options.average_every = a.merge_every;
    options.averager = sparse.averager();
  }
  options.batch_size = a.batch_size;
  options.eval_batch_size = a.eval_batch_size;
  options.accumulate_steps = a.accumulate_steps;
  options.seed = a.seed;
  options.num_workers = a.workers;
  options.device = device;
  options.resident_data = resident;
  options.cuda_graph = a.cuda_graph;
  options.schedule = schedule;
  options.drop_last = a.drop_last;
  options.max_steps = max_steps;
  options.lookahead.every = a.lookahead;
  if (loss_scaling)
    options.loss_scaling = optim::LossScalerOptions{.init_scale = a.loss_scale_init,
                                                    .growth_interval = a.loss_scale_interval};
  const train::Layouts layout =
      train::choose_layouts(a.memory_format, nn::has_convolutions(a.model), stream, compute);
  options.format = layout.input;
  options.activation_format = layout.activations;
  options.progress = progress_enabled(a.progress);
  options.augment = augment;
  options.tta = a.tta;
  if (a.pipeline > 0) {
    train::PipelineOptions& p = options.pipeline.emplace();
    p.stages = a.pipeline;
    if (a.profile) p.profile = profile_options;
    p.policy = train::parse_weight_policy(a.weight_policy);
    p.micro_batches = a.micro_batches;
    for (int64_t b : a.pipeline_boundaries) p.boundaries.push_back(static_cast<size_t>(b));
    SPRINT_CHECK(p.boundaries.empty() || static_cast<int>(p.boundaries.size()) == p.stages,
                 "--pipeline-boundaries gives {} stage starts for --pipeline {}", p.boundaries.size(), p.stages);
    if (!p.boundaries.empty()) train::check_boundaries(p.boundaries, train::pipeline_layers(*model.net).size());
    for (const std::string& d : a.stage_devices) p.devices.push_back(parse_device(d));
    SPRINT_CHECK(p.devices.empty() || static_cast<int>(p.devices.size()) == p.stages,
                 "--stage-devices gives {} devices for --pipeline {}", p.devices.size(), p.stages);
    for (const Device d : p.devices) (void)device_context(d);  // a clear error when a GPU is missing
    p.make_optimizer = [&a](nn::Module& stage) { return make_optimizer(a, stage); };
  } else {
    SPRINT_CHECK(!given("--weight-policy") && !given("--micro-batches") && !given("--pipeline-boundaries") &&
                     !given("--stage-devices"),
                 "--weight-policy, --micro-batches, --pipeline-boundaries and --stage-devices need --pipeline K");
  }
  train::RunReport report;
  report.model = a.model;
  report.dataset = a.dataset;
  report.device = device_name(device);
  report.config = a.resolved;
  report.requested_epochs = a.epochs;
  const optim::ParameterPaths paths = optim::parameter_paths(*model.net);
  train::Trainer* trainer_ptr = nullptr;
  const auto save_checkpoint = [&] {
    train::Trainer& t = *trainer_ptr;
    // A pipelined run's stages each hold the state of their own parameters (model paths): together the whole.
    const std::vector<optim::Optimizer*> optimizers = t.checkpointed_optimizers();
    train::RunState state{t.state(), optimizers.front()->progress(), {}, {}, a.command,
                          train::epochs_json(report.epochs)};
    for (optim::Optimizer* o : optimizers) {
      for (nn::NamedBuffer& b : o->named_state(paths)) state.optimizer_state.push_back(std::move(b));
      state.optimizer_groups += (state.optimizer_groups.empty() ? "" : "; ") + o->describe_update_sets();
    }
    const auto start = std::chrono::steady_clock::now();
    const std::filesystem::path saved = train::save_checkpoint(*a.checkpoint_dir, stream, *model.net, a.model, state, a.keep);
    log_info("checkpoint {} saved in {:.3f} s", saved.string(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  if (a.checkpoint_dir) {
    options.checkpoint_every = a.checkpoint_every;
    options.on_checkpoint = save_checkpoint;
  }
  SPRINT_CHECK(a.on_nonfinite == "stop" || a.on_nonfinite == "continue",
               "--on-nonfinite {}: expected stop or continue", a.on_nonfinite);
  options.stop_on_nonfinite = a.on_nonfinite == "stop";
  const StopOnSignals stop_signals;  // SIGINT / SIGTERM end the run after the current step
  options.stop_requested = &stop_signals.requested();
  options.profiler = profiler ? &*profiler : nullptr;
  options.evaluate_epochs = !a.profile_only;
  train::Trainer trainer(model, optimizer, data.train, data.test, options);
  trainer_ptr = &trainer;
  int64_t first_epoch = 1;
  if (a.resume) {
    const auto start = std::chrono::steady_clock::now();
    const train::LoadedCheckpoint c = train::load_checkpoint(*a.resume);
    train::load_model_state(stream, *model.net, c.weights, true);
    trainer.restore(c.run.trainer, train::tensors_with_prefix(c.state, "lookahead."),
                    train::tensors_with_prefix(c.state, "gradient."));
    size_t loaded = 0, saved = 0;
    for (optim::Optimizer* o : trainer.checkpointed_optimizers()) {
      loaded += o->load_state(stream, paths, train::tensors_with_prefix(c.state, "optimizer.")).size();
      o->restore_progress(c.run.optimizer);
    }
    if (options.pipeline) optimizer.restore_progress(c.run.optimizer);  // its lr is the one the table prints
    for (const auto& e : c.state.entries()) saved += e.name.starts_with("optimizer.") ? 1 : 0;
    SPRINT_CHECK(loaded == saved, "{}: {} optimizer tensors saved, {} belong to this optimizer", c.state.source(),
                 saved, loaded);
    report.epochs = train::parse_epochs_json(c.run.report_epochs);
    first_epoch = c.run.trainer.epoch;
    log_info("checkpoint {} loaded in {:.3f} s", c.weights_path.string(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::printf("resumed %s at step %lld (epoch %lld, batch %lld)\n", c.weights_path.c_str(),
                static_cast<long long>(c.step), static_cast<long long>(c.run.trainer.epoch),
                static_cast<long long>(c.run.trainer.batch));
  }

  std::printf("sprint %s | model %s (%lld parameters) | %s: %lld train / %lld test | %s, %d thread%s\n", SPRINT_VERSION,
              a.model.c_str(), static_cast<long long>(model.net->n_parameters()), a.dataset.c_str(),
              static_cast<long long>(data.train.size()), static_cast<long long>(data.test.size()),
              device_name(device).c_str(), threads, threads == 1 ? "" : "s");
  if (a.recipe) std::printf("recipe %s\n", a.recipe->c_str());
  std::printf("%s, %s, batch %lld, %s\n", optimizer.describe().c_str(), schedule->describe().c_str(),
              static_cast<long long>(a.batch_size), model.loss->describe().c_str());
  if (const std::string line = sparse.describe(); !line.empty()) std::printf("%s\n", line.c_str());
  if (options.augment.enabled() || options.tta > 0)
    std::printf("augmentation: %s; test-time augmentation %d\n", options.augment.describe().c_str(), options.tta);
  if (device.is_cuda()) {
    const Numerics n = context.numerics();
    std::printf("numerics: f32 %s, %s\n", n.allow_tf32 ? "may use TF32 tensor cores" : "without TF32",
                n.deterministic ? "deterministic algorithms (a convolution cuDNN has none for warns and runs a "
                                  "non-deterministic one)"
                                : "non-deterministic algorithms allowed");
  }
  if (!a.profile_only) std::printf("%s\n", train::epoch_table_header().c_str());
  std::fflush(stdout);

  for (const train::EpochStats& e : report.epochs) std::printf("%s\n", train::epoch_table_row(e).c_str());
  // A new event file per run (a resumed run too: TensorBoard reads every file of the directory).
  std::optional<profile::EventWriter> events;
  if (a.tensorboard) events.emplace(*a.tensorboard, "--tensorboard");
  for (int64_t epoch = first_epoch; epoch <= n_epochs && !trainer.finished(); ++epoch) {
    train::EpochStats stats;
    sparse.start_epoch(stream, epoch);
    try {
      stats = trainer.run_epoch(epoch, n_epochs);
    } catch (const TrainingDiverged&) {
      report.status = "diverged";
      if (a.report) train::write_report(*a.report, report);
      throw;
    }
    if (trainer.interrupted()) {  // a partial epoch: saved where it stopped, reported by the resumed run
      if (a.checkpoint_dir) save_checkpoint();
      break;
    }
    report.epochs.push_back(stats);
    if (!a.profile_only) std::printf("%s\n", train::epoch_table_row(report.epochs.back()).c_str());
    std::fflush(stdout);
    if (a.checkpoint_dir) save_checkpoint();
    if (a.report) train::write_report(*a.report, report);  // kept current: an interrupted run keeps its epochs
    if (events) write_epoch_scalars(*events, report.epochs.back(), optimizer.lr(), trainer.steps_done());
  }
  if (profiler) finish_profile(a, *profiler, report);
  if (const std::vector<train::StageReport> stages = trainer.pipeline_stages(); !stages.empty()) {
    report.pipeline =
        train::pipeline_json(*options.pipeline, trainer.pipeline_boundaries(), stages, trainer.pipeline_wall_seconds());
    const std::vector<const profile::ProfileData*> profiles = trainer.pipeline_profiles();
    if (!profiles.empty()) {
      std::printf("%s", train::pipeline_profile_tables(stages, profiles, static_cast<size_t>(a.profile_rows)).c_str());
      report.profile = train::pipeline_profile_json(stages, profiles);
    }
    print_pipeline(*options.pipeline, trainer, stages);
    if (a.trace) train::write_pipeline_trace(*a.trace, trainer.pipeline_spans(), options.pipeline->stages, profiles);
  }
  if (trainer.interrupted()) {
    report.status = "interrupted";
    if (a.report) train::write_report(*a.report, report);
    const train::TrainerState at = trainer.state();
    std::printf("interrupted at step %lld (epoch %lld, batch %lld)%s%s\n", static_cast<long long>(at.steps_done),
                static_cast<long long>(at.epoch), static_cast<long long>(at.batch),
                a.checkpoint_dir ? "; continue with: sprint train --resume " : "",
                a.checkpoint_dir ? a.checkpoint_dir->c_str() : "");
    return kInterruptedExitCode;
  }
  report.status = "completed";
  sparse.finish(stream, trainer.steps_done());
  report.sparse = sparse.json();
  if (group != nullptr) {
    const dist::TrafficCounters& t = group->traffic();
    report.distributed = train::distributed_json({.ranks = group->size(),
                                                  .backend = std::string(group->backend_name()),
                                                  .optimizer_steps = trainer.steps_done(),
                                                  .collectives = t.collectives,
                                                  .bytes = t.bytes,
                                                  .overlap = options.overlap_allreduce,
                                                  .buckets_reduced = trainer.buckets_reduced(),
                                                  .buckets_started_during_backward =
                                                      trainer.buckets_started_during_backward(),
                                                  .sync_batch_norm = options.sync_batch_norm});
    std::printf("data parallel: %d ranks over %s; %.2f MiB all-reduced per optimizer step and rank (%lld steps)\n",
                group->size(), std::string(group->backend_name()).c_str(),
                trainer.steps_done() > 0
                    ? static_cast<double>(t.bytes) / static_cast<double>(trainer.steps_done()) / (1024.0 * 1024.0)
                    : 0.0,
                static_cast<long long>(trainer.steps_done()));
  }
  SPRINT_CHECK(!report.epochs.empty(), "the run has no epochs to report");
  if (a.tta > 0) {
    const auto start = std::chrono::steady_clock::now();
    report.tta = trainer.evaluate();
    report.tta_level = a.tta;
    std::printf("test-time augmentation (level %d): test accuracy %.2f%%, test loss %.4f, %.3f s\n", a.tta,
                100.0 * report.tta->accuracy, report.tta->loss,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (a.report) train::write_report(*a.report, report);
    if (events) {
      events->add_scalar("final/tta_accuracy", report.tta->accuracy, trainer.steps_done());
      events->flush();
    }
  }
  if (a.report) train::write_report(*a.report, report);  // also when a resumed run had nothing left to do
  double total = 0.0;
  for (const auto& e : report.epochs) total += e.train_seconds;
  if (!a.profile_only)
    std::printf("final test accuracy %.2f%%, training time %.3f s\n", 100.0 * report.epochs.back().test.accuracy,
                total);
  const AllocatorStats mem = context.allocator().stats();
  std::printf("memory (%s): peak %s reserved, %s allocated\n", device_name(device).c_str(),
              format_bytes(mem.peak_reserved_bytes).c_str(), format_bytes(mem.peak_allocated_bytes).c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    SPRINT_THROW(IoError, "cannot write the results to standard output: {}", std::strerror(errno));
  return 0;
}

}  // namespace

int run_train(const TrainArgs& given_args) {
  if (!given_args.distributed) {
    for (const char* name : {"--dist-timeout", "--dist-backend", "--bucket-mb", "--dist-overlap", "--sync-batchnorm"})
      SPRINT_CHECK(!given_args.was_given(name), "{} needs --distributed", name);
    return run_train_in(given_args, nullptr);
  }
  SPRINT_CHECK(dist::mpi_built(), "--distributed needs MPI: this sprint was built without it (apt-get install "
                                  "libopenmpi-dev openmpi-bin, then rebuild)");
  SPRINT_CHECK(dist::launched_by_mpi(), "--distributed: start sprint under an MPI launcher, e.g. mpirun -np 2 "
                                        "sprint train ... --distributed");
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(given_args.dist_timeout * 1000.0));
  std::unique_ptr<dist::ProcessGroup> group = dist::make_mpi_process_group(timeout);
  TrainArgs args = given_args;
  // One GPU per rank: `--device cuda` is this rank's GPU among its machine's, by its rank on the machine.
  if (args.device == "cuda" && cuda_device_count() > 0)
    args.device = fmt::format("cuda:{}", dist::local_rank() % cuda_device_count());
  const Device device = parse_device(args.device);
  // NCCL needs a GPU of its own per rank: auto takes it when the machine has as many GPUs as local ranks.
  const bool nccl = args.dist_backend == "nccl" || (args.dist_backend == "auto" && device.is_cuda() &&
                                                    dist::nccl_built() && dist::local_size() <= cuda_device_count());
  if (nccl) {
    SPRINT_CHECK(device.is_cuda(), "--dist-backend nccl needs --device cuda (NCCL reduces GPU tensors); on the CPU "
                                   "use --dist-backend mpi");
    group = dist::make_nccl_process_group(std::move(group), device_context(device), timeout);
  }
  if (group->rank() == 0) return run_train_in(args, group.get());
  // Other ranks train alike but print nothing and write no files (rank 0 writes the report and checkpoints).
  TrainArgs quiet = args;
  quiet.report.reset();
  quiet.checkpoint_dir.reset();
  quiet.checkpoint_every = 0;
  quiet.save_sparse.reset();
  quiet.tensorboard.reset();
  quiet.trace.reset();
  quiet.progress = "off";
  std::fflush(stdout);
  if (std::freopen("/dev/null", "w", stdout) == nullptr)
    SPRINT_THROW(IoError, "rank {}: cannot silence standard output", group->rank());
  return run_train_in(quiet, group.get());
}

}  // namespace sprint::cli
