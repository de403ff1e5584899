// trainer.cpp: epoch loop, evaluation, and the CUDA-graph step.
#include "sprint/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>

#include <fmt/ranges.h>

#include "sprint/config.h"
#include "sprint/core/log.h"
#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/ops/augment.h"
#include "sprint/ops/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/loss.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/group_replica_sum.h"
#if SPRINT_HAS_CUDA
#include "sprint/runtime/cuda/cuda_graph.h"
#endif

namespace sprint::train {
namespace {

int64_t count_batch_norms(nn::Module& m) {
  int64_t n = dynamic_cast<nn::BatchNorm2d*>(&m) != nullptr ? 1 : 0;
  for (auto& [name, child] : m.children()) n += count_batch_norms(*child);
  return n;
}

data::DataLoaderOptions loader_options(const TrainerOptions& o, int64_t batch_size, bool train, uint64_t seed,
                                       const data::AugmentOptions& augment) {
  data::DataLoaderOptions l;
  l.augment = augment;
  l.batch_size = batch_size;
  l.shuffle = train;
  l.drop_last = train && o.drop_last;
  l.seed = seed;
  l.num_workers = o.num_workers;
  l.prefetch = o.prefetch;
  l.device = o.device;
  l.dtype = o.dtype;
  l.format = o.format;
  if (train && o.process_group != nullptr) {
    if (o.average_every > 0)  // local SGD: the whole set, in this rank's own order
      l.seed = seed + static_cast<uint64_t>(o.process_group->rank()) * 0x9E3779B97F4A7C15ull;
    else
      l.shard = {o.process_group->rank(), o.process_group->size()};
  }
  return l;
}

std::unique_ptr<data::BatchSource> make_source(const data::Dataset& set, const data::DataLoaderOptions& o,
                                               bool resident) {
  if (resident) return std::make_unique<data::ResidentLoader>(set, o);
  return std::make_unique<data::DataLoader>(set, o);
}

}  // namespace

#if SPRINT_HAS_CUDA
struct Trainer::GraphState {
  cuda::CudaGraph graph;
  const void* input_address = nullptr;  // the batch buffer the graph reads
  bool warmed_up = false;
  // Dropout in the graph: the kernels read {seed, base} from `philox` (i64 (2) on the device) and add the base to
  // the offsets reserved at capture; the graph's last node advances the base by words_per_step, so replay r
  // draws the masks the eager step r after the capture would. The host generator skips as many words per replay.
  Tensor philox;
  uint64_t words_per_step = 0;
  int64_t n_replays = 0;
  // Host counters a step advances (BatchNorm's num_batches_tracked): by how much the captured step moved each.
  std::vector<nn::NamedCounter> counters;
  std::vector<int64_t> counter_steps;
};
#else
struct Trainer::GraphState {};
#endif

Trainer::Trainer(nn::Model& model, optim::Optimizer& optimizer, const data::Dataset& train_set,
                 const data::Dataset& test_set, const TrainerOptions& options)
    : model_(model),
      optimizer_(optimizer),
      test_set_(test_set),
      options_(options),
      stream_(device_context(options.device).compute_stream()),
      rng_(options.seed ^ 0x5eedull),
      progress_(options.progress),
      evaluator_(stream_, model) {
  SPRINT_CHECK(options.batch_size > 0 && options.eval_batch_size > 0, "batch sizes must be positive");
  SPRINT_CHECK(options.accumulate_steps >= 1, "accumulate_steps must be >= 1, got {}", options.accumulate_steps);
  SPRINT_CHECK(train_set.size() > 0, "the training set is empty");
  SPRINT_CHECK(options.max_steps >= 0, "max_steps must be >= 0, got {}", options.max_steps);
  SPRINT_CHECK(options.lookahead.every >= 0, "lookahead every must be >= 0, got {}", options.lookahead.every);
  SPRINT_CHECK(!options.drop_last || train_set.size() >= options.batch_size,
               "drop_last with batch {} leaves no batch of the {} training samples", options.batch_size,
               train_set.size());
  if (options.cuda_graph) {
    SPRINT_CHECK(options.device.is_cuda(), "CUDA graphs need a CUDA device (got {})", device_name(options.device));
    SPRINT_CHECK(options.resident_data, "CUDA graphs need the device-resident data path (fixed batch addresses)");
    SPRINT_CHECK(options.accumulate_steps == 1, "CUDA graphs do not combine with gradient accumulation");
    SPRINT_CHECK(!options.on_step, "CUDA graphs bake scalars such as the learning rate into the graph: no on_step hook");
    SPRINT_CHECK(!options.loss_scaling,
                 "dynamic loss scaling decides on the host whether each step runs: it does not combine with CUDA graphs");

    SPRINT_CHECK(options.profiler == nullptr,
                 "the profiler does not combine with CUDA graphs: replayed steps call no layer it could time");
    graph_ = std::make_unique<GraphState>();
  }
  if (options.pipeline) {
    SPRINT_CHECK(options.accumulate_steps == 1, "--pipeline does not combine with gradient accumulation "
                                                "(the sync weight policy's --micro-batches splits a batch instead)");
    SPRINT_CHECK(!options.cuda_graph, "--pipeline does not combine with CUDA graphs");
    SPRINT_CHECK(!options.loss_scaling, "--pipeline does not combine with loss scaling");
    SPRINT_CHECK(options.lookahead.every == 0, "--pipeline does not combine with lookahead weight averaging");
    SPRINT_CHECK(options.profiler == nullptr, "a pipeline's stages profile themselves (PipelineOptions::profile): the "
                                              "trainer's profiler times one thread");
    SPRINT_CHECK(options.checkpoint_every == 0,
                 "--pipeline saves checkpoints at each epoch's end and when interrupted (its stages have drained "
                 "then), not every --checkpoint-every steps");
    SPRINT_CHECK(!options.on_step, "--pipeline runs no per-step hook (its stages step on their own threads)");
  }
  if (options.process_group != nullptr && options.process_group->size() > 1) {
    SPRINT_CHECK(!options.pipeline, "data-parallel training does not combine with --pipeline yet");
    SPRINT_CHECK(!options.cuda_graph, "data-parallel training does not combine with CUDA graphs (the gradient "
                                      "all-reduce runs on the host)");
    SPRINT_CHECK(options.checkpoint_every == 0,
                 "data-parallel training saves checkpoints at each epoch's end and when interrupted (every rank "
                 "stops at the same step then), not every --checkpoint-every steps");
    group_ = options.process_group;
    SPRINT_CHECK(options.average_every >= 0 && (options.average_every == 0) == (options.averager == nullptr),
                 "local SGD needs both a merge interval >= 1 and an averager");
    if (options.average_every == 0) buckets_ = std::make_unique<GradientBuckets>(options.bucket_bytes, *model_.net);
    SPRINT_CHECK(!options.sync_batch_norm || options.average_every == 0,
                 "synchronised batch norm needs gradient averaging (local SGD's ranks train apart)");
    if (options.sync_batch_norm) {
      replica_sum_ = std::make_unique<GroupReplicaSum>(*group_);
      if (group_->rank() == 0 && count_batch_norms(*model_.net) == 0)
        log_warn("--sync-batchnorm: the model has no BatchNorm layer, so there is nothing to synchronise");
    }
    // Every rank starts from rank 0's weights and statistics (masters too, under mixed precision).
    for (const nn::ParameterPtr& p : model_.net->parameters()) {
      group_->broadcast(stream_, p->master_value(), 0);
      p->refresh_compute_copy(stream_);
    }
    for (const nn::NamedBuffer& b : model_.net->named_buffers()) group_->broadcast(stream_, b.value, 0);
  }
  SPRINT_CHECK(options.tta >= 0 && options.tta <= 2, "test-time augmentation level must be 0, 1 or 2, got {}",
               options.tta);
  if (options.tta > 0) {
    const Tensor& x = test_set.inputs;
    SPRINT_CHECK(x.defined() && x.dtype() == DType::kU8 && x.ndim() == 4,
                 "test-time augmentation (level {}) needs an image data set; {} has {}", options.tta, test_set.name,
                 x.defined() ? x.description() : std::string("no inputs"));
  }
  train_loader_ = make_source(
      train_set, loader_options(options, options.batch_size, true, options.seed, options.augment),
      options.resident_data);
  test_loader_ = make_source(test_set, loader_options(options, options.eval_batch_size, false, 0, {}),
                             options.resident_data);
  loss_sum_ = ops::zeros(stream_, {}, DType::kF32);
  if (options.loss_scaling) {
    scaler_ = std::make_unique<optim::LossScaler>(stream_, *options.loss_scaling);
    scaled_params_ = model_.net->parameters();  // steps then allocate nothing
    scaled_grads_.reserve(scaled_params_.size());
  }
  // The network's input is data: no gradient needed for it.
  model_.net->set_needs_input_grad(false);
}

Trainer::~Trainer() = default;

int64_t Trainer::total_steps(int64_t n_epochs) const {
  const int64_t per_epoch = (train_loader_->batches_per_epoch() + options_.accumulate_steps - 1) /
                            options_.accumulate_steps;
  const int64_t planned = per_epoch * n_epochs;
  return options_.max_steps > 0 ? std::min(planned, options_.max_steps) : planned;
}

void Trainer::after_optimizer_step(int64_t total, bool last) {
  ++steps_done_;
  if (group_ != nullptr && options_.averager != nullptr && (steps_done_ % options_.average_every == 0 || last))
    options_.averager->merge(stream_, *group_);
  const LookaheadOptions& la = options_.lookahead;
  if (la.every == 0) return;
  if (steps_done_ % la.every == 0) lookahead_->update(stream_, la.decay(steps_done_, total));
  if (last && lookahead_) lookahead_->update(stream_, 1.0);  // the weights become the average
}

bool Trainer::train_step(nn::RunContext& ctx, const data::Batch& batch, int64_t step, int64_t steps) {
  const int k = options_.accumulate_steps;
  profile::Profiler* const profiler = options_.profiler;
  if (step % k == 0) optimizer_.zero_grad();
  Tensor logits, batch_loss, dlogits;
  {
    const profile::ProfileRegion region(profiler, "model", profile::Category::kForward);
    logits = model_.net->forward(ctx, batch.inputs);
  }
  {
    const profile::ProfileRegion region(profiler, "loss", profile::Category::kLoss);
    batch_loss = model_.loss->forward(ctx, logits, batch.labels);
    dlogits = model_.loss->backward(ctx);
    if (scaler_) scaler_->scale_gradient(stream_, dlogits);
  }
  const int64_t done = step + 1;
  const bool stepped = done % k == 0 || done == steps;
  // Data parallelism: the last micro-batch's backward starts the gradient all-reduce bucket by bucket.
  const bool overlap = stepped && buckets_ && options_.overlap_allreduce;
  if (overlap) {
    buckets_->begin_step(*group_, stream_);
    ctx.gradient_listener = buckets_.get();
  }
  {
    const profile::ProfileRegion region(profiler, "model", profile::Category::kBackward);
    model_.net->backward(ctx, dlogits);
  }
  ctx.gradient_listener = nullptr;
  if (stepped) {
    const profile::ProfileRegion region(profiler, "optimizer", profile::Category::kOptimizer);
    const int64_t in_window = done % k == 0 ? k : done % k;
    if (buckets_) {  // the mean over ranks, before the scaler: every rank then decides the same skip
      const profile::ProfileRegion allreduce(profiler, "allreduce", profile::Category::kOptimizer);
      buckets_->finish(*group_, stream_);
      buckets_started_early_ += static_cast<int64_t>(buckets_->started_during_backward());
      buckets_reduced_ += static_cast<int64_t>(buckets_->bucket_count());
    }
    bool skip = false;
    if (scaler_) {  // unscale the gradients; an inf or NaN among them skips this step's update
      scaled_grads_.clear();
      for (const nn::ParameterPtr& p : scaled_params_)
        if (p->trainable() && p->has_grad()) scaled_grads_.push_back(p->grad());
      skip = scaler_->unscale_and_update(stream_, scaled_grads_);
      if (skip) ++skipped_in_epoch_;
    }
    // The schedule follows the run's steps (skipped ones included, as a scheduler stepped every iteration).
    if (options_.schedule) {
      const int64_t t = steps_done_;
      optimizer_.set_lr(options_.schedule->lr(t));
      optimizer_.set_momentum(options_.schedule->momentum(t));
    }
    if (!skip) optimizer_.step(stream_, 1.0 / static_cast<double>(in_window));
  }
  // loss_sum += the batch's summed loss (stays on the device).
  ops::axpby(stream_, {.a = batch_loss, .b = loss_sum_, .out = loss_sum_,
                       .alpha = loss_weight(*model_.loss, batch.size)});
  return stepped;
}

bool Trainer::graph_step(nn::RunContext& ctx, const data::Batch& batch, int64_t step, int64_t steps) {
#if SPRINT_HAS_CUDA
  if (!graph_ || batch.size != options_.batch_size) return false;  // the short last batch runs eagerly
  GraphState& g = *graph_;
  if (!g.warmed_up) {  // first full step eagerly: allocates buffers, optimizer state, GEMM plans, conv algorithms
    (void)train_step(ctx, batch, step, steps);
    g.warmed_up = true;
    return true;
  }
  if (!g.graph.ready()) {
    g.input_address = batch.inputs.data();
    const GeneratorState before = rng_.state();
    g.philox = ops::to_stream_device(
        stream_, Tensor::from_values(std::vector<int64_t>{static_cast<int64_t>(before.seed), 0}, {2}));
    ctx.philox_state = g.philox;
    g.counters = model_.net->named_counters();
    std::vector<int64_t> counters_before;
    for (const nn::NamedCounter& c : g.counters) counters_before.push_back(*c.value);
    {
      cuda::GraphCapture capture = g.graph.capture(stream_);
      (void)train_step(ctx, batch, step, steps);
      g.words_per_step = rng_.state().offset - before.offset;
      ops::philox_state_advance(stream_, {.state = g.philox, .n_words = g.words_per_step});  // no node if 0
      capture.finish();
    }
    for (size_t i = 0; i < g.counters.size(); ++i)
      g.counter_steps.push_back(*g.counters[i].value - counters_before[i]);
    ctx.philox_state = Tensor();  // eager steps (the short last batch) take their offsets from the host
  }
  SPRINT_ASSERT(batch.inputs.data() == g.input_address, "the batch moved: the CUDA graph reads a fixed buffer");
  // The capture ran the first replay's host side (its Philox words, optimizer step count and counters); every later
  // replay advances them as much again.
  if (g.n_replays++ > 0) {
    rng_.set_state({rng_.seed(), rng_.state().offset + g.words_per_step});
    optimizer_.count_replayed_step();
    for (size_t i = 0; i < g.counters.size(); ++i) *g.counters[i].value += g.counter_steps[i];
  }
  g.graph.replay(stream_);
  return true;
#else
  (void)ctx, (void)batch, (void)step, (void)steps;
  return false;
#endif
}

EpochStats Trainer::run_epoch(int64_t epoch, int64_t n_epochs) {
  nn::RunContext ctx{stream_, &rng_, nn::BufferKey::micro_batch(0), options_.activation_format, &step_buffers_};
  ctx.replica_sum = replica_sum_.get();
  if (model_.on_epoch_start) model_.on_epoch_start(epoch - 1);
  // Recomputes which layers need their input gradient (parameters may have been frozen or unfrozen).
  model_.net->set_needs_input_grad(false);
  model_.net->train();
  const int64_t total = total_steps(n_epochs);
  // Under CUDA graphs the optimizer selects each step's lr, momentum and Adam step count on the device from a plan
  // of the whole run, so the one captured step replays every step of the schedule.
  if (graph_ && !optimizer_.has_plan()) {
    std::vector<optim::PlannedStep> plan(static_cast<size_t>(total));
    for (int64_t t = 0; t < total; ++t) {
      optim::PlannedStep& p = plan[static_cast<size_t>(t)];
      p.lr = options_.schedule ? options_.schedule->lr(t) : optimizer_.lr();
      p.momentum = options_.schedule ? options_.schedule->momentum(t) : std::nullopt;
    }
    optimizer_.plan_steps(stream_, plan);
  }
  // The average starts from the weights before the first step (airbench's LookaheadState(model)).
  if (options_.lookahead.every > 0 && !lookahead_) lookahead_ = std::make_unique<Lookahead>(stream_, *model_.net);
  int64_t step = 0, samples = 0;
  if (resume_ && resume_->epoch == epoch) {  // continue a checkpointed epoch where it stopped
    step = resume_->batch;
    samples = resume_->samples;
    ops::copy(stream_, ops::to_stream_device(stream_, resume_->loss_sum), loss_sum_);
    // The job's partial sum was saved (rank 0 holds it; the others add their losses from here on).
    if (group_ != nullptr && group_->rank() != 0) ops::fill(stream_, loss_sum_, 0.0);
  } else {
    ops::fill(stream_, loss_sum_, 0.0);
  }
  resume_.reset();
  skipped_in_epoch_ = 0;
  train_loader_->start_epoch(epoch - 1, step);
  const int64_t steps = train_loader_->batches_per_epoch();
  progress_.begin(fmt::format("epoch {}/{}", epoch, n_epochs), steps);
  epoch_ = epoch;
  batch_ = step;
  samples_ = samples;

  // The pipeline is cut (its layers timed on the first batch, when it balances them) before the clock starts.
  std::optional<data::Batch> first;
  if (options_.pipeline) {
    first = train_loader_->next();
    if (first && !pipeline_) make_pipeline(&*first);
  }
  stream_.synchronize();
  const auto start = std::chrono::steady_clock::now();
  profile::Profiler* const profiler = options_.profiler;
  if (options_.pipeline) {
    const auto [batches, trained] = pipelined_epoch(std::move(first));
    step += batches;
    samples += trained;
    if (!interrupted_) {
      batch_ = step;
      samples_ = samples;
    }
  }
  while (!options_.pipeline && !finished()) {
    ctx.observer = profiler != nullptr ? profiler->begin_step() : nullptr;
    std::optional<data::Batch> batch;
    {
      const profile::ProfileRegion region(profiler, "data wait", profile::Category::kData);
      batch = train_loader_->next();
    }
    if (!batch) {
      if (profiler != nullptr) profiler->discard_step();
      break;
    }
    // A graph step always ends with the optimizer (no accumulation with graphs).
    const bool stepped = graph_step(ctx, *batch, step, steps) || train_step(ctx, *batch, step, steps);
    if (profiler != nullptr) profiler->end_step();
    if (stepped) after_optimizer_step(total, steps_done_ + 1 == total);
    ++step;
    samples += batch->size;
    if (stepped) {
      batch_ = step;
      samples_ = samples;
    }
    if (options_.on_step && (step % options_.accumulate_steps == 0 || step == steps))
      options_.on_step(epoch, step, steps);
    // On the CPU the f32 accumulator is host memory: read in place, every step (no allocation, no wait).
    if (options_.stop_on_nonfinite && stream_.device().is_cpu() && !std::isfinite(loss_sum_.data_as<float>()[0]))
      throw TrainingDiverged(fmt::format("the training loss became non-finite at epoch {}, step {} of {} (lower the "
                                         "learning rate; --on-nonfinite continue trains on regardless)",
                                         epoch, step, steps));
    if (stepped && stop_agreed()) interrupted_ = true;
    if (stepped && options_.on_checkpoint && options_.checkpoint_every > 0 &&
        steps_done_ % options_.checkpoint_every == 0 && step < steps && !finished())
      options_.on_checkpoint();
    if (progress_.due() || (options_.progress && step == steps))
      progress_.update(step, samples, read_scalar(stream_, loss_sum_) / static_cast<double>(samples));
  }
  stream_.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress_.end();
  if (!finished()) {  // the epoch ran to its end: the next step begins the next epoch
    epoch_ = epoch + 1;
    batch_ = 0;
    samples_ = 0;
  }

  EpochStats stats;
  stats.epoch = epoch;
  if (scaler_) {
    stats.loss_scale = scaler_->scale(stream_);
    stats.skipped_steps = skipped_in_epoch_;
  }
  if (group_ != nullptr) {  // the whole job's loss and samples
    group_->allreduce(stream_, loss_sum_, dist::ReduceOp::kSum);
    const Tensor count = Tensor::from_values(std::vector<int64_t>{samples}, {});
    group_->allreduce(stream_, count, dist::ReduceOp::kSum);
    samples = count.data_as<int64_t>()[0];
  }
  stats.train_samples = samples;
  stats.train_seconds = seconds;
  stats.samples_per_second = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
  stats.train_loss = read_scalar(stream_, loss_sum_) / static_cast<double>(samples);
  if (options_.stop_on_nonfinite && !std::isfinite(stats.train_loss))
    throw TrainingDiverged(fmt::format("the training loss became non-finite in epoch {} (by step {} of {}; lower the "
                                       "learning rate; --on-nonfinite continue trains on regardless)",
                                       epoch, step, steps));
  if (!interrupted_ && options_.evaluate_epochs) stats.test = evaluate_with(options_.tta_every_epoch ? options_.tta : 0);
  return stats;
}

std::pair<int64_t, int64_t> Trainer::pipelined_epoch(std::optional<data::Batch> first) {
  if (!first) return {0, 0};
  bool given = false;
  // The feeder: stops at the epoch's end, or when a stop was requested (the mini-batches in flight still finish).
  auto next = [&]() -> std::optional<data::Batch> {
    if (!given) {
      given = true;
      return first;
    }
    if (options_.stop_requested && options_.stop_requested->load()) {
      interrupted_ = true;
      return std::nullopt;
    }
    return train_loader_->next();
  };
  const int64_t left = options_.max_steps > 0 ? options_.max_steps - steps_done_ : 0;
  const Pipeline::EpochResult r = pipeline_->train_epoch(next, left, options_.schedule.get(), loss_sum_);
  steps_done_ += r.mini_batches;  // a non-finite loss is caught at the epoch's end, as on CUDA
  return {r.mini_batches, r.samples};
}

void Trainer::make_pipeline(const data::Batch* sample) {
  const PipelineOptions& p = *options_.pipeline;
  SPRINT_CHECK(sample != nullptr || !p.boundaries.empty() || p.stages == 1,
               "the pipeline's stages are balanced on the first batch: its optimizers exist once an epoch has begun");
  const GeneratorState before = rng_.state();
  pipeline_ = std::make_unique<Pipeline>(model_, p, stream_, options_.activation_format, rng_,
                                         sample != nullptr ? *sample : data::Batch{});
  // Stages on several devices: evaluation runs them in turn, each on its device.
  if (pipeline_->spans_devices())
    evaluator_.set_forward([this](nn::RunContext& ctx, const Tensor& x) { return pipeline_->forward(ctx, x); });
  if (pending_stage_generators_) {
    // Resumed: the run's generator was saved after the stages' forks, and the stages' own states were saved too.
    rng_.set_state(before);
    pipeline_->restore_stage_generators(*pending_stage_generators_);
    pipeline_->restore_updates(steps_done_);  // no step has run since restore()
    // The stages' lr and momentum as their last update left them (SpecTrain predicts with them before the next).
    if (options_.schedule && steps_done_ > 0)
      for (optim::Optimizer* o : pipeline_->optimizers()) {
        o->set_lr(options_.schedule->lr(steps_done_ - 1));
        o->set_momentum(options_.schedule->momentum(steps_done_ - 1));
      }
    pending_stage_generators_.reset();
  }
}

std::vector<optim::Optimizer*> Trainer::checkpointed_optimizers() {
  if (!options_.pipeline) return {&optimizer_};
  if (!pipeline_) make_pipeline(nullptr);
  return pipeline_->optimizers();
}

std::vector<StageReport> Trainer::pipeline_stages() const {
  return pipeline_ ? pipeline_->reports() : std::vector<StageReport>{};
}

std::string Trainer::pipeline_boundaries() const {
  return pipeline_ ? describe_boundaries(pipeline_->boundaries(), pipeline_layers(*model_.net).size()) : std::string();
}

// A stop asked for on any rank stops every rank after the same step (one 4-byte all-reduce per step), so that
// rank 0's checkpoint is every rank's state; the job's partial loss of the epoch is summed then, for it.
bool Trainer::stop_agreed() {
  const bool here = options_.stop_requested != nullptr && options_.stop_requested->load();
  if (group_ == nullptr) return here;
  if (options_.stop_requested == nullptr) return false;  // the same on every rank: no rank asks
  const Tensor flag = Tensor::from_values(std::vector<int32_t>{here ? 1 : 0}, {});
  group_->allreduce(stream_, flag, dist::ReduceOp::kSum);
  if (flag.data_as<int32_t>()[0] == 0) return false;
  job_loss_at_stop_ = ops::to_host(stream_, ops::cast_to(stream_, loss_sum_, DType::kF32));
  group_->allreduce(stream_, job_loss_at_stop_, dist::ReduceOp::kSum);
  return true;
}

TrainerState Trainer::state() {
  TrainerState s;
  s.epoch = epoch_;
  s.batch = batch_;
  s.samples = samples_;
  s.steps_done = steps_done_;
  s.rng = rng_.state();
  s.loss_sum = batch_ == 0                      ? Tensor::from_values(std::vector<float>{0.0f}, {})
               : job_loss_at_stop_.defined()    ? job_loss_at_stop_
                                                : ops::to_host(stream_, ops::cast_to(stream_, loss_sum_, DType::kF32));
  if (lookahead_) s.lookahead = lookahead_->named_averages();
  if (pipeline_) {
    s.pipeline_boundaries = pipeline_->boundaries();
    s.stage_generators = pipeline_->stage_generators();
    if (options_.pipeline->policy == WeightPolicy::kSpecTrain)  // it predicts along the last gradients
      for (const auto& [name, p] : model_.net->named_parameters())
        if (p->trainable()) s.gradients.push_back({name, p->grad()});
  }
  if (scaler_) {
    s.loss_scale = scaler_->state(stream_);
    s.skipped_steps = scaler_->skipped_steps();
  }
  return s;
}

void Trainer::restore(const TrainerState& s, const std::function<Tensor(const std::string&)>& find_average,
                      const std::function<Tensor(const std::string&)>& find_gradient) {
  SPRINT_CHECK(s.epoch >= 1 && s.batch >= 0 && s.batch <= train_loader_->batches_per_epoch() && s.samples >= 0 &&
                   s.steps_done >= 0,
               "cannot resume at epoch {}, batch {} of {} ({} samples, {} steps)", s.epoch, s.batch,
               train_loader_->batches_per_epoch(), s.samples, s.steps_done);
  SPRINT_CHECK(s.loss_sum.defined() && s.loss_sum.numel() == 1, "resume: the epoch's loss sum is missing");
  SPRINT_CHECK(options_.pipeline.has_value() == !s.pipeline_boundaries.empty(),
               "resume: the checkpoint was saved by a run {} --pipeline; resume it {}",
               s.pipeline_boundaries.empty() ? "without" : "with", s.pipeline_boundaries.empty() ? "without it" : "with it");
  if (options_.pipeline) {
    SPRINT_CHECK(pipeline_ == nullptr, "resume: restore() comes before the first epoch of a pipelined run");
    PipelineOptions& p = *options_.pipeline;
    SPRINT_CHECK(static_cast<int>(s.pipeline_boundaries.size()) == p.stages,
                 "resume: the checkpoint's pipeline has {} stages, this run {}", s.pipeline_boundaries.size(), p.stages);
    SPRINT_CHECK(p.boundaries.empty() || p.boundaries == s.pipeline_boundaries,
                 "resume: the checkpoint's stages begin at layers {}, --pipeline-boundaries gives {}",
                 fmt::join(s.pipeline_boundaries, ","), fmt::join(p.boundaries, ","));
    p.boundaries = s.pipeline_boundaries;  // the same cut, even where the stages were balanced by measured time
    pending_stage_generators_ = s.stage_generators;
    if (p.policy == WeightPolicy::kSpecTrain && s.steps_done > 0) {
      SPRINT_CHECK(find_gradient != nullptr, "resume: SpecTrain needs the stages' last gradients");
      for (const auto& [name, param] : model_.net->named_parameters()) {
        if (!param->trainable()) continue;
        const Tensor g = find_gradient(name);
        SPRINT_CHECK(g.defined(), "resume: the checkpoint has no gradient for {} (SpecTrain predicts along it)", name);
        ops::copy(stream_, ops::to_stream_device(stream_, g), param->grad());
      }
    }
  }
  steps_done_ = s.steps_done;
  rng_.set_state(s.rng);
  SPRINT_CHECK(!scaler_ || s.loss_scale.defined(), "resume: the run scales its loss but the checkpoint has no loss scale");
  if (scaler_) scaler_->load_state(stream_, s.loss_scale, s.skipped_steps);
  epoch_ = s.epoch;
  batch_ = s.batch;
  samples_ = s.samples;
  resume_ = s;
  if (options_.lookahead.every > 0 && s.steps_done > 0) {
    lookahead_ = std::make_unique<Lookahead>(stream_, *model_.net);
    lookahead_->load_averages(stream_, find_average);
  }
}

EvalStats Trainer::evaluate_with(int tta) {
  SPRINT_CHECK(tta >= 0 && tta <= 2, "test-time augmentation level must be 0, 1 or 2, got {}", tta);
  SPRINT_CHECK(tta == 0 || options_.tta > 0,
               "test-time augmentation needs TrainerOptions::tta > 0 (which checks the test set holds images)");
  // Evaluation uses its own buffers: its larger batches must not move the training ones (a captured CUDA graph
  // reads them at fixed addresses).
  nn::RunContext ctx{stream_, &rng_, nn::BufferKey::evaluation(), options_.activation_format};
  return evaluator_.run(ctx, *test_loader_, tta);
}

}  // namespace sprint::train
