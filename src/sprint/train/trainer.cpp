// trainer.cpp: epoch loop, evaluation, and the CUDA-graph step.
#include "sprint/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "sprint/config.h"
#include "sprint/data/loader.h"
#include "sprint/data/resident_loader.h"
#include "sprint/ops/augment.h"
#include "sprint/ops/dropout.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/loss.h"
#include "sprint/runtime/device_registry.h"
#if SPRINT_HAS_CUDA
#include "sprint/runtime/cuda/cuda_graph.h"
#endif

namespace sprint::train {
namespace {

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
  return l;
}

std::unique_ptr<data::BatchSource> make_source(const data::Dataset& set, const data::DataLoaderOptions& o,
                                               bool resident) {
  if (resident) return std::make_unique<data::ResidentLoader>(set, o);
  return std::make_unique<data::DataLoader>(set, o);
}

constexpr int kEvalSlot = 1;

double read_scalar(const Stream& stream, const Tensor& t) { return ops::to_host(stream, t).to_vector<double>()[0]; }

// Weight of a batch's loss in a per-sample sum: the batch size for a mean loss, 1 for a summed one.
double loss_weight(const nn::Loss& loss, int64_t batch_size) {
  switch (loss.reduction()) {
    case Reduction::kMean: return static_cast<double>(batch_size);
    case Reduction::kSum: return 1.0;
  }
  return static_cast<double>(batch_size);
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
      progress_(options.progress) {
  SPRINT_CHECK(options.batch_size > 0 && options.eval_batch_size > 0, "batch sizes must be positive");
  SPRINT_CHECK(options.accumulate_steps >= 1, "accumulate_steps must be >= 1, got {}", options.accumulate_steps);
  SPRINT_CHECK(train_set.size() > 0, "the training set is empty");
  SPRINT_CHECK(options.max_steps >= 0, "max_steps must be >= 0, got {}", options.max_steps);
  SPRINT_CHECK(options.lookahead.every >= 0, "lookahead every must be >= 0, got {}", options.lookahead.every);
  SPRINT_CHECK(!options.drop_last || train_set.size() >= options.batch_size,
               "drop_last with batch {} leaves no batch of the {} training samples", options.batch_size,
               train_set.size());
  if (options.cuda_graph) {
    SPRINT_CHECK(!options.schedule || !options.schedule->varies(),
                 "CUDA graphs replay the learning rate of their warm-up step; the schedule ({}) changes it: use a "
                 "constant schedule with CUDA graphs",
                 options.schedule ? options.schedule->describe() : std::string());
    SPRINT_CHECK(options.device.is_cuda(), "CUDA graphs need a CUDA device (got {})", device_name(options.device));
    SPRINT_CHECK(options.resident_data, "CUDA graphs need the device-resident data path (fixed batch addresses)");
    SPRINT_CHECK(options.accumulate_steps == 1, "CUDA graphs do not combine with gradient accumulation");
    SPRINT_CHECK(!options.on_step, "CUDA graphs bake scalars such as the learning rate into the graph: no on_step hook");

    graph_ = std::make_unique<GraphState>();
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
  eval_loss_sum_ = ops::zeros(stream_, {}, DType::kF32);
  eval_correct_ = ops::zeros(stream_, {}, DType::kI64);
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
  const LookaheadOptions& la = options_.lookahead;
  if (la.every == 0) return;
  if (steps_done_ % la.every == 0) lookahead_->update(stream_, la.decay(steps_done_, total));
  if (last && lookahead_) lookahead_->update(stream_, 1.0);  // the weights become the average
}

bool Trainer::train_step(nn::RunContext& ctx, const data::Batch& batch, int64_t step, int64_t steps) {
  const int k = options_.accumulate_steps;
  if (step % k == 0) optimizer_.zero_grad();
  const Tensor logits = model_.net->forward(ctx, batch.inputs);
  const Tensor batch_loss = model_.loss->forward(ctx, logits, batch.labels);
  model_.net->backward(ctx, model_.loss->backward(ctx));
  const int64_t done = step + 1;
  const bool stepped = done % k == 0 || done == steps;
  if (stepped) {
    const int64_t in_window = done % k == 0 ? k : done % k;
    if (options_.schedule) {
      const int64_t t = optimizer_.step_count();
      optimizer_.set_lr(options_.schedule->lr(t));
      optimizer_.set_momentum(options_.schedule->momentum(t));
    }
    optimizer_.step(stream_, 1.0 / static_cast<double>(in_window));
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
    {
      cuda::GraphCapture capture = g.graph.capture(stream_);
      (void)train_step(ctx, batch, step, steps);
      g.words_per_step = rng_.state().offset - before.offset;
      ops::philox_state_advance(stream_, {.state = g.philox, .n_words = g.words_per_step});  // no node if 0
      capture.finish();
    }
    ctx.philox_state = Tensor();  // eager steps (the short last batch) take their offsets from the host
  }
  SPRINT_ASSERT(batch.inputs.data() == g.input_address, "the batch moved: the CUDA graph reads a fixed buffer");
  // The capture reserved the first replay's words on the host; every later replay consumes as many again.
  if (g.n_replays++ > 0) rng_.set_state({rng_.seed(), rng_.state().offset + g.words_per_step});
  g.graph.replay(stream_);
  return true;
#else
  (void)ctx, (void)batch, (void)step, (void)steps;
  return false;
#endif
}

EpochStats Trainer::run_epoch(int64_t epoch, int64_t n_epochs) {
  nn::RunContext ctx{stream_, &rng_, 0, options_.activation_format, &gradients_};
  if (model_.on_epoch_start) model_.on_epoch_start(epoch - 1);
  // Recomputes which layers need their input gradient (parameters may have been frozen or unfrozen).
  model_.net->set_needs_input_grad(false);
  model_.net->train();
  const int64_t total = total_steps(n_epochs);
  // The average starts from the weights before the first step (airbench's LookaheadState(model)).
  if (options_.lookahead.every > 0 && !lookahead_) lookahead_ = std::make_unique<Lookahead>(stream_, *model_.net);
  train_loader_->start_epoch(epoch - 1);
  ops::fill(stream_, loss_sum_, 0.0);
  const int64_t steps = train_loader_->batches_per_epoch();
  progress_.begin(fmt::format("epoch {}/{}", epoch, n_epochs), steps);

  stream_.synchronize();
  const auto start = std::chrono::steady_clock::now();
  int64_t step = 0, samples = 0;
  while (!finished()) {
    std::optional<data::Batch> batch = train_loader_->next();
    if (!batch) break;
    // A graph step always ends with the optimizer (no accumulation with graphs).
    const bool stepped = graph_step(ctx, *batch, step, steps) || train_step(ctx, *batch, step, steps);
    if (stepped) after_optimizer_step(total, steps_done_ + 1 == total);
    ++step;
    samples += batch->size;
    if (options_.on_step && (step % options_.accumulate_steps == 0 || step == steps))
      options_.on_step(epoch, step, steps);
    if (progress_.due() || (options_.progress && step == steps))
      progress_.update(step, samples, read_scalar(stream_, loss_sum_) / static_cast<double>(samples));
  }
  stream_.synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress_.end();

  EpochStats stats;
  stats.epoch = epoch;
  stats.train_samples = samples;
  stats.train_seconds = seconds;
  stats.samples_per_second = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
  stats.train_loss = read_scalar(stream_, loss_sum_) / static_cast<double>(samples);
  stats.test = evaluate_with(options_.tta_every_epoch ? options_.tta : 0);
  return stats;
}

Tensor Trainer::eval_logits(nn::RunContext& ctx, const Tensor& inputs, int tta) {
  nn::Module& net = *model_.net;
  if (tta == 0) return net.forward(ctx, inputs);
  // airbench94's infer_mirror / infer_mirror_translate: (shift in both axes, mirror, weight) per view.
  struct View {
    int shift;
    bool flip;
    double weight;
  };
  static constexpr View kMirror[] = {{0, false, 0.5}, {0, true, 0.5}};
  static constexpr View kMirrorTranslate[] = {{0, false, 0.25},  {0, true, 0.25}, {-1, false, 0.125},
                                              {-1, true, 0.125}, {1, false, 0.125}, {1, true, 0.125}};
  const std::span<const View> views = tta == 1 ? std::span<const View>(kMirror) : kMirrorTranslate;
  const int64_t rows = inputs.dim(0);
  Allocator& allocator = stream_.context().allocator();
  if (!tta_view_.defined() || tta_view_.dim(0) < rows || tta_view_.dtype() != inputs.dtype())
    tta_view_ = Tensor::empty(inputs.shape(), inputs.dtype(), allocator, inputs.memory_format());
  const Tensor view = tta_view_.rows(0, rows);
  Tensor sum;
  for (const View& v : views) {
    const bool identity = v.shift == 0 && !v.flip;
    if (!identity)
      ops::translate_flip(stream_, {.x = inputs, .out = view, .shift_y = v.shift, .shift_x = v.shift, .flip = v.flip});
    const Tensor logits = net.forward(ctx, identity ? inputs : view);
    if (!sum.defined()) {
      Shape shape = logits.shape();
      shape[0] = std::max(rows, tta_logits_.defined() ? tta_logits_.dim(0) : int64_t{0});
      if (!tta_logits_.defined() || tta_logits_.shape() != shape || tta_logits_.dtype() != logits.dtype())
        tta_logits_ = Tensor::empty(shape, logits.dtype(), allocator);
      sum = tta_logits_.rows(0, rows);
      // sum = weight · logits (b is logits itself with beta 0: sum's old contents are never read).
      ops::axpby(stream_, {.a = logits, .b = logits, .out = sum, .alpha = v.weight, .beta = 0.0});
    } else {
      ops::axpby(stream_, {.a = logits, .b = sum, .out = sum, .alpha = v.weight, .beta = 1.0});
    }
  }
  return sum;
}

EvalStats Trainer::evaluate_with(int tta) {
  SPRINT_CHECK(tta >= 0 && tta <= 2, "test-time augmentation level must be 0, 1 or 2, got {}", tta);
  SPRINT_CHECK(tta == 0 || options_.tta > 0,
               "test-time augmentation needs TrainerOptions::tta > 0 (which checks the test set holds images)");
  nn::Module& net = *model_.net;
  nn::Loss& loss = *model_.loss;
  // Evaluation uses its own workspace slot: its larger batches must not move the training buffers (a captured
  // CUDA graph reads them at fixed addresses).
  nn::RunContext ctx{stream_, &rng_, kEvalSlot, options_.activation_format};
  net.eval();
  test_loader_->start_epoch(0);
  ops::fill(stream_, eval_loss_sum_, 0.0);
  ops::fill(stream_, eval_correct_, 0.0);
  int64_t samples = 0;
  while (std::optional<data::Batch> batch = test_loader_->next()) {
    const Tensor logits = eval_logits(ctx, batch->inputs, tta);
    const Tensor batch_loss = loss.forward(ctx, logits, batch->labels);
    ops::axpby(stream_, {.a = batch_loss, .b = eval_loss_sum_, .out = eval_loss_sum_,
                         .alpha = loss_weight(loss, batch->size)});
    ops::count_correct(stream_, {.scores = logits, .target = batch->labels, .correct = eval_correct_});
    samples += batch->size;
  }
  net.train();
  EvalStats e;
  e.samples = samples;
  if (samples > 0) {
    e.loss = read_scalar(stream_, eval_loss_sum_) / static_cast<double>(samples);
    e.accuracy = read_scalar(stream_, eval_correct_) / static_cast<double>(samples);
  }
  return e;
}

}  // namespace sprint::train
