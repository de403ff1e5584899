// pipeline.cpp: the stage threads, their hand-off queues and the feeding of mini-batches.
#include "sprint/train/pipeline.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/cpu/cpu_context.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/evaluator.h"

namespace sprint::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

/// What a Channel's pop() throws once another stage failed (the failure itself is kept in Shared::error).
struct ChannelAborted {};

/// A hand-off queue between two threads. pop() waits for a value, or returns nullopt once the queue is closed
/// and empty; abort() wakes every waiter with an error (another stage failed).
template <class T>
class Channel {
 public:
  void push(T value) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(value));
    }
    ready_.notify_one();
  }
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }
  void abort() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      aborted_ = true;
    }
    ready_.notify_all();
  }
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return aborted_ || closed_ || !items_.empty(); });
    if (aborted_) throw ChannelAborted();
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false, aborted_ = false;
};

/// What crosses a stage boundary: mini-batch `index`'s activation (forward) or activation gradient
/// (backward), and on a GPU the event after which the producer's stream has written it.
struct HandOff {
  int64_t index = 0;
  Tensor tensor;
  std::shared_ptr<Event> ready;
};

/// The point of `stream`'s queue after the work queued so far (null on the CPU, whose work is done when queued).
std::shared_ptr<Event> mark(const Stream& stream) {
  if (stream.device().is_cpu()) return nullptr;
  auto e = std::make_shared<Event>(stream.context());
  e->record(stream);
  return e;
}

/// Orders the work `consumer` queues next after `ready`, and tells the allocator that `consumer` uses `tensor`.
void consume(const Tensor& tensor, const std::shared_ptr<Event>& ready, const Stream& consumer) {
  if (ready) ready->block(consumer);
  record_stream(tensor, consumer);
}

/// `tensor` (written by `producer`'s work up to `ready`) for `consumer`'s work: on the consumer's device, the
/// tensor itself (consumed); on another device, a copy made on the consumer's stream, which `producer`'s
/// stream then waits for, so that the producer's memory is reused only after the copy has read it.
Tensor receive(const Tensor& tensor, const std::shared_ptr<Event>& ready, const Stream& consumer,
               const Stream& producer) {
  if (tensor.device() == consumer.device()) {
    consume(tensor, ready, consumer);
    return tensor;
  }
  if (ready) ready->block(consumer);
  Tensor copy = ops::copy_to(consumer, tensor);
  if (const std::shared_ptr<Event> copied = mark(consumer)) copied->block(producer);
  return copy;
}

}  // namespace

/// The mini-batches being trained: a ring of input copies (a loader's batch is valid only until its next()),
/// freed by stage 0 once its backward of the mini-batch is done, and the queues between the stages.
struct Pipeline::Shared {
  struct Slot {
    Tensor inputs, labels;
    int64_t size = 0;
    std::shared_ptr<Event> filled;    // the feeder's copies into the slot (the run's stream)
    std::shared_ptr<Event> released;  // stage 0's last use of the slot's mini-batch (stage 0's stream)
  };
  std::vector<Slot> ring;
  Channel<int64_t> free_slots;                                 // ring slots the feeder may fill
  Channel<int64_t> fed;                                        // mini-batches stage 0 may start
  std::vector<std::unique_ptr<Channel<HandOff>>> activations;  // [k]: from stage k to k + 1
  std::vector<std::unique_ptr<Channel<HandOff>>> gradients;    // [k]: from stage k + 1 to k
  Tensor loss_sum;
  std::mutex error_mutex;
  std::exception_ptr error;

  Slot& slot_of(int64_t index) { return ring[static_cast<size_t>(index) % ring.size()]; }
  void fail(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = e;
    }
    free_slots.abort();
    fed.abort();
    for (auto& c : activations) c->abort();
    for (auto& c : gradients) c->abort();
  }
};

struct Pipeline::Stage {
  int index = 0;
  Device device;  // where its layers live
  Stream stream;  // the run's stream for one stage on the run's device; otherwise a stream of the stage's own
  std::shared_ptr<nn::Sequential> net;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<StageWeights> weights;
  Generator rng;
  int64_t updates = 0;
  double staleness_sum = 0.0;
  int64_t staleness_max = 0, backwards = 0;
  double busy = 0.0, idle = 0.0;
  std::vector<PipelineSpan> spans;  // the first kTracedSpansPerStage passes
  std::unique_ptr<profile::Profiler> profiler;  // null: not profiled
};

const char* pipeline_span_kind_name(PipelineSpanKind kind) {
  switch (kind) {
    case PipelineSpanKind::kForward:
      return "forward";
    case PipelineSpanKind::kBackward:
      return "backward";
    case PipelineSpanKind::kUpdate:
      return "update";
  }
  return "?";
}

std::vector<const profile::ProfileData*> Pipeline::profiles() const {
  std::vector<const profile::ProfileData*> out;
  for (const auto& s : stages_)
    if (s->profiler) out.push_back(&s->profiler->data());
  return out;
}

std::vector<PipelineSpan> Pipeline::spans() const {
  std::vector<PipelineSpan> out;
  for (const auto& s : stages_) out.insert(out.end(), s->spans.begin(), s->spans.end());
  return out;
}

Pipeline::Pipeline(nn::Model& model, const PipelineOptions& options, const Stream& stream,
                   std::optional<MemoryFormat> activation_format, Generator& rng, const data::Batch& sample)
    : model_(model), options_(options), stream_(stream), activation_format_(activation_format), rng_(rng) {
  SPRINT_CHECK(options.stages >= 1, "--pipeline needs at least 1 stage, got {}", options.stages);
  SPRINT_CHECK(options.micro_batches >= 1, "--micro-batches must be >= 1, got {}", options.micro_batches);
  SPRINT_CHECK(options.policy == WeightPolicy::kSync || options.micro_batches == 1,
               "--micro-batches {} applies to the sync weight policy (GPipe), not {}", options.micro_batches,
               weight_policy_name(options.policy));
  SPRINT_CHECK(options.make_optimizer != nullptr, "the pipeline needs a factory for its stages' optimizers");
  SPRINT_CHECK(options.devices.empty() || static_cast<int>(options.devices.size()) == options.stages,
               "{} stage devices for {} stages", options.devices.size(), options.stages);
  nn::Sequential& net = *model.net;
  if (!options.boundaries.empty()) {
    boundaries_ = options.boundaries;
    SPRINT_CHECK(static_cast<int>(boundaries_.size()) == options.stages, "{} stage boundaries for {} stages",
                 boundaries_.size(), options.stages);
  } else if (options.stages == 1) {
    boundaries_ = {0};
  } else {
    // Timing steps must leave no trace: running statistics and counters are put back, dropout draws from a
    // generator of its own.
    std::vector<Tensor> buffers;
    for (const nn::NamedBuffer& b : net.named_buffers()) buffers.push_back(ops::to_host(stream, b.value));
    std::vector<int64_t> counters;
    for (const nn::NamedCounter& c : net.named_counters()) counters.push_back(*c.value);
    Generator timing_rng(rng.seed() ^ 0x71e5ull);
    nn::RunContext ctx{stream, &timing_rng, nn::BufferKey::micro_batch(0), activation_format};
    net.set_needs_input_grad(true);
    boundaries_ = boundaries_balanced(measure_layer_seconds(net, ctx, sample.inputs, 2), options.stages);
    for (const nn::ParameterPtr& p : net.parameters()) p->zero_grad();
    size_t i = 0;
    for (const nn::NamedBuffer& b : net.named_buffers()) ops::copy(stream, buffers[i++], b.value);
    i = 0;
    for (const nn::NamedCounter& c : net.named_counters()) *c.value = counters[i++];
  }
  check_boundaries(boundaries_, pipeline_layers(net).size());
  std::vector<std::shared_ptr<nn::Sequential>> views = split_stages(net, boundaries_);
  // A parameter shared by layers of two stages would be updated by two optimizers on two threads.
  std::unordered_map<const nn::Parameter*, int> owner;
  for (int k = 0; k < options.stages; ++k)
    for (const nn::ParameterPtr& p : views[static_cast<size_t>(k)]->parameters()) {
      const auto [it, fresh] = owner.emplace(p.get(), k);
      SPRINT_CHECK(fresh, "{} is shared by stages {} and {}: cut the model elsewhere (--pipeline-boundaries)",
                   p->name(), it->second, k);
    }
  for (int k = 0; k < options.stages; ++k) {
    auto s = std::make_unique<Stage>();
    s->index = k;
    s->device = options.devices.empty() ? stream.device() : options.devices[static_cast<size_t>(k)];
    s->stream = options.stages == 1 && s->device == stream.device() ? stream : device_context(s->device).create_stream();
    s->net = views[static_cast<size_t>(k)];
    if (s->device != stream.device()) {
      s->stream.wait_for(stream);  // the weights as the run's work left them
      s->net->to_device(s->stream);
      // The old copies are freed on the run's stream: its later work (which may reuse them) after the copies.
      stream.wait_for(s->stream);
    }
    s->optimizer = options.make_optimizer(*s->net);
    std::vector<nn::ParameterPtr> trained;
    for (const nn::ParameterPtr& p : s->net->parameters())
      if (p->trainable()) trained.push_back(p);
    s->weights = std::make_unique<StageWeights>(trained, *s->optimizer, options.policy,
                                                spectrain_version_difference(k, options.stages));
    // Stage 0 draws from the run's generator (one stage is plain training); the others from their own forks,
    // so dropout masks depend on the stage, never on the threads' timing.
    if (k > 0) s->rng = rng.fork();
    if (options.profile) s->profiler = std::make_unique<profile::Profiler>(s->stream, *options.profile, created_);
    stages_.push_back(std::move(s));
  }
}

Pipeline::~Pipeline() = default;

bool Pipeline::spans_devices() const {
  return std::any_of(stages_.begin(), stages_.end(), [&](const auto& s) { return s->device != stream_.device(); });
}

Tensor Pipeline::forward(nn::RunContext& ctx, const Tensor& inputs) {
  Tensor x = inputs;
  Stream previous = ctx.stream;
  for (auto& s : stages_) {
    nn::RunContext stage_ctx = ctx;
    stage_ctx.stream = s->stream;
    if (s->stream != previous) x = receive(x, mark(previous), s->stream, previous);
    x = s->net->forward(stage_ctx, x);
    previous = s->stream;
  }
  if (previous == ctx.stream) return x;
  return receive(x, mark(previous), ctx.stream, previous);
}

int64_t Pipeline::updates() const {
  return stages_.empty() ? 0 : stages_.front()->updates;
}

std::vector<optim::Optimizer*> Pipeline::optimizers() const {
  std::vector<optim::Optimizer*> out;
  for (const auto& s : stages_) out.push_back(s->optimizer.get());
  return out;
}

std::vector<GeneratorState> Pipeline::stage_generators() const {
  std::vector<GeneratorState> out;
  for (size_t k = 1; k < stages_.size(); ++k) out.push_back(stages_[k]->rng.state());
  return out;
}

void Pipeline::restore_stage_generators(const std::vector<GeneratorState>& states) {
  SPRINT_CHECK(states.size() + 1 == stages_.size(), "the checkpoint holds dropout generators of {} stages after the "
               "first; this pipeline has {} stages", states.size(), stages_.size());
  for (size_t k = 1; k < stages_.size(); ++k) stages_[k]->rng.set_state(states[k - 1]);
}

void Pipeline::restore_updates(int64_t updates) {
  for (auto& s : stages_) {
    s->updates = updates;
    s->weights->set_version(updates);
  }
}

std::vector<StageReport> Pipeline::reports() const {
  std::vector<StageReport> out;
  const PipelineLayers layers = pipeline_layers(*model_.net);
  for (const auto& s : stages_) {
    StageReport r;
    r.stage = s->index;
    r.first_layer = boundaries_[static_cast<size_t>(s->index)];
    r.end_layer = static_cast<size_t>(s->index) + 1 < boundaries_.size()
                      ? boundaries_[static_cast<size_t>(s->index) + 1]
                      : layers.size();
    const std::string& first = layers[r.first_layer].first;
    const std::string& last = layers[r.end_layer - 1].first;
    r.layer_names = first == last ? first : first + " .. " + last;
    r.device = s->device;
    r.updates = s->updates;
    r.mean_staleness = s->backwards > 0 ? s->staleness_sum / static_cast<double>(s->backwards) : 0.0;
    r.max_staleness = s->staleness_max;
    if (options_.policy == WeightPolicy::kSpecTrain)
      r.version_difference = spectrain_version_difference(s->index, options_.stages);
    r.prediction_error = s->weights->prediction_error();
    r.busy_seconds = s->busy;
    r.idle_seconds = s->idle;
    out.push_back(r);
  }
  return out;
}

void Pipeline::run_stage(Stage& stage, Shared& shared, const optim::Schedule* schedule) {
  const int k = stage.index, K = options_.stages;
  const bool first = k == 0, last = k == K - 1;
  const bool sync = options_.policy == WeightPolicy::kSync;
  nn::Loss& loss = *model_.loss;
  const Stream& stream = stage.stream;
  nn::RunContext ctx{stream, first ? &rng_ : &stage.rng, nn::BufferKey::micro_batch(0), activation_format_};
  Channel<HandOff>* in = first ? nullptr : shared.activations[static_cast<size_t>(k - 1)].get();
  Channel<HandOff>* out = last ? nullptr : shared.activations[static_cast<size_t>(k)].get();
  Channel<HandOff>* grad_in = last ? nullptr : shared.gradients[static_cast<size_t>(k)].get();
  Channel<HandOff>* grad_out = first ? nullptr : shared.gradients[static_cast<size_t>(k - 1)].get();

  auto trace = [&](PipelineSpanKind kind, int64_t index, int64_t micro, Clock::time_point start) {
    if (stage.spans.size() >= kTracedSpansPerStage) return;
    auto ns = [&](Clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(t - created_).count();
    };
    stage.spans.push_back({k, kind, index, micro, ns(start), ns(Clock::now())});
  };
  profile::Profiler* const profiler = stage.profiler.get();
  // A profiled step is one turn of the stage's schedule: begin_step sets the turn's layer observer, end_step
  // closes it, and discard_step forgets a turn that found no work.
  auto begin_step = [&] { ctx.observer = profiler != nullptr ? profiler->begin_step() : nullptr; };
  auto end_step = [&] {
    if (profiler != nullptr) profiler->end_step();
  };
  auto discard_step = [&] {
    if (profiler != nullptr) profiler->discard_step();
  };
  auto wait = [&](const char* what, auto&& pop) {
    const profile::ProfileRegion region(profiler, what, profile::Category::kData);
    const auto t = Clock::now();
    auto v = pop();
    stage.idle += seconds_since(t);
    return v;
  };
  // The next mini-batch's input: its index and activation (stage 0: the ring's copy); nullopt at the end.
  auto next_input = [&]() -> std::optional<HandOff> {
    if (first) {
      std::optional<int64_t> i = wait("input wait", [&] { return shared.fed.pop(); });
      if (!i) return std::nullopt;
      const Shared::Slot& s = shared.slot_of(*i);
      return HandOff{*i, receive(s.inputs, s.filled, stream, stream_), nullptr};
    }
    std::optional<HandOff> h = wait("activation wait", [&] { return in->pop(); });
    if (h) h->tensor = receive(h->tensor, h->ready, stream, stages_[static_cast<size_t>(k - 1)]->stream);
    return h;
  };
  // The stage's update after mini-batch `index`'s backward(s); stage 0 then frees the mini-batch's ring slot.
  auto shake = [&](PipelineSpanKind kind) {
    if (options_.before_pass) options_.before_pass(k, kind);
  };
  auto update = [&](int64_t index) {
    shake(PipelineSpanKind::kUpdate);
    const auto t = Clock::now();
    if (schedule != nullptr) {
      stage.optimizer->set_lr(schedule->lr(stage.updates));
      stage.optimizer->set_momentum(schedule->momentum(stage.updates));
    }
    {
      const profile::ProfileRegion region(profiler, "optimizer", profile::Category::kOptimizer);
      stage.optimizer->step(stream, 1.0);
    }
    ++stage.updates;
    stage.weights->count_update();
    stage.weights->check_prediction_sample(stream);
    stage.busy += seconds_since(t);
    trace(PipelineSpanKind::kUpdate, index, 0, t);
    if (first) {
      // Stage 0's backward came after the last stage's use of the labels (through the gradient hand-offs).
      shared.slot_of(index).released = mark(stream);
      shared.free_slots.push(index % static_cast<int64_t>(shared.ring.size()));
    }
  };
  // Forward of rows [row, row + n) of mini-batch `index` under `key` (x: stage 0's whole mini-batch, a later
  // stage's activation of those rows); the last stage adds the loss.
  auto forward = [&](int64_t index, const Tensor& x, nn::BufferKey key, int64_t row, int64_t n) {
    shake(PipelineSpanKind::kForward);
    const auto t = Clock::now();
    ctx.buffers = key;
    stage.weights->begin_forward(stream, key);
    const Tensor part = n == x.dim(0) ? x : x.rows(row, n);
    SPRINT_ASSERT(part.dim(0) == n, "stage {}: {} rows for a micro-batch of {}", k, part.dim(0), n);
    Tensor y;
    {
      const profile::ProfileRegion region(profiler, "model", profile::Category::kForward);
      y = stage.net->forward(ctx, part);
    }
    stage.weights->end_forward(stream);
    if (last) {
      const profile::ProfileRegion region(profiler, "loss", profile::Category::kLoss);
      const Shared::Slot& s = shared.slot_of(index);
      const Tensor all_labels = receive(s.labels, s.filled, stream, stream_);
      const Tensor labels = n == s.size ? all_labels : all_labels.rows(row, n);
      const Tensor batch_loss = loss.forward(ctx, y, labels);
      ops::axpby(
          stream,
          {.a = batch_loss, .b = shared.loss_sum, .out = shared.loss_sum, .alpha = loss_weight(loss, n)});
    } else {
      out->push({index, y, mark(stream)});
    }
    stage.busy += seconds_since(t);
    trace(PipelineSpanKind::kForward, index, sync ? key.micro_batch_index() : 0, t);
  };
  // Backward of mini-batch `index` under `key`; `scale` weighs a micro-batch's loss gradient.
  auto backward = [&](int64_t index, nn::BufferKey key, double scale, bool zero_first) {
    shake(PipelineSpanKind::kBackward);
    Tensor dy;
    if (last) {
      const profile::ProfileRegion region(profiler, "loss", profile::Category::kLoss);
      ctx.buffers = key;
      dy = loss.backward(ctx, scale);
    } else {
      std::optional<HandOff> g = wait("gradient wait", [&] { return grad_in->pop(); });
      SPRINT_ASSERT(g && g->index == index, "stage {} expected the gradient of mini-batch {}", k, index);
      dy = receive(g->tensor, g->ready, stream, stages_[static_cast<size_t>(k + 1)]->stream);
    }
    const auto t = Clock::now();
    ctx.buffers = key;
    const int64_t staleness = stage.weights->versions_since_forward(key);
    stage.staleness_sum += static_cast<double>(staleness);
    stage.staleness_max = std::max(stage.staleness_max, staleness);
    ++stage.backwards;
    if (zero_first) stage.optimizer->zero_grad();
    stage.weights->begin_backward(stream, key);
    Tensor dx;
    {
      const profile::ProfileRegion region(profiler, "model", profile::Category::kBackward);
      dx = stage.net->backward(ctx, dy);
    }
    stage.weights->end_backward(stream);
    if (!first) grad_out->push({index, dx, mark(stream)});
    stage.busy += seconds_since(t);
    trace(PipelineSpanKind::kBackward, index, sync ? key.micro_batch_index() : 0, t);
  };

  if (sync) {
    // GPipe: every micro-batch forward, then every backward in reverse, gradients accumulated, one update.
    const int64_t M = options_.micro_batches;
    while (true) {
      begin_step();
      std::optional<HandOff> x = next_input();
      if (!x) {
        discard_step();
        break;
      }
      const int64_t size = shared.slot_of(x->index).size;
      const int64_t parts = std::min(M, size);
      const double whole = loss_weight(loss, size);
      auto rows = [&](int64_t m) {
        return std::pair{size * m / parts, size * (m + 1) / parts - size * m / parts};
      };
      for (int64_t m = 0; m < parts; ++m) {
        HandOff part = m == 0 ? *x : *next_input();
        SPRINT_ASSERT(part.index == x->index, "stage {}: micro-batch of mini-batch {} out of order", k,
                      x->index);
        const auto [row, n] = rows(m);
        forward(x->index, part.tensor, nn::BufferKey::micro_batch(m), row, n);
      }
      for (int64_t m = parts; m-- > 0;) {
        const double scale = loss_weight(loss, rows(m).second) / whole;
        backward(x->index, nn::BufferKey::micro_batch(m), scale, m == parts - 1);
      }
      update(x->index);
      end_step();
    }
  } else {
    // Asynchronous 1F1B: K - k - 1 forwards ahead, then one forward and one backward in turn, then the drain.
    const int64_t ahead = K - k - 1;
    std::deque<int64_t> in_flight;
    bool inputs_left = true;
    auto forward_next = [&] {
      std::optional<HandOff> x = next_input();
      if (!x) {  // tell the next stage at once: its last backwards must not wait for a forward that never
                 // comes
        inputs_left = false;
        if (out != nullptr) out->close();
        return;
      }
      forward(x->index, x->tensor, nn::BufferKey::micro_batch(x->index % K), 0, x->tensor.dim(0));
      in_flight.push_back(x->index);
    };
    while (inputs_left && static_cast<int64_t>(in_flight.size()) < ahead) forward_next();
    while (!in_flight.empty() || inputs_left) {
      begin_step();
      if (inputs_left) forward_next();
      if (in_flight.empty()) {
        discard_step();
        break;
      }
      const int64_t index = in_flight.front();
      in_flight.pop_front();
      backward(index, nn::BufferKey::micro_batch(index % K), 1.0, true);
      update(index);
      end_step();
    }
  }
  if (out != nullptr) out->close();
}

Pipeline::EpochResult Pipeline::train_epoch(const std::function<std::optional<data::Batch>()>& next,
                                            int64_t max_updates, const optim::Schedule* schedule,
                                            const Tensor& loss_sum) {
  const int K = options_.stages;
  const bool sync = options_.policy == WeightPolicy::kSync;
  Shared shared;
  // The last stage sums the losses on its device; on another device than the run's, into a sum of its own.
  Stage& last_stage = *stages_.back();
  shared.loss_sum = last_stage.device == stream_.device() ? loss_sum : ops::zeros(last_stage.stream, {}, loss_sum.dtype());
  shared.ring.resize(static_cast<size_t>(sync ? 2 : K + 1));  // one mini-batch ahead of stage 0
  for (size_t i = 0; i < shared.ring.size(); ++i) shared.free_slots.push(static_cast<int64_t>(i));
  for (int k = 0; k + 1 < K; ++k) {
    shared.activations.push_back(std::make_unique<Channel<HandOff>>());
    shared.gradients.push_back(std::make_unique<Channel<HandOff>>());
  }
  for (auto& s : stages_) {
    s->net->set_needs_input_grad(s->index > 0);
    s->stream.wait_for(stream_);  // what the run queued before (weights, the zeroed loss sum) comes first
  }
  // Each stage thread gets its share of the cores (at least one).
  CpuContext& cpu = cpu_context();
  const int threads = cpu.num_threads();
  cpu.set_num_threads(std::max(1, threads / K));

  const auto started = Clock::now();
  std::vector<std::thread> threads_;
  for (auto& s : stages_)
    threads_.emplace_back([&, stage = s.get()] {
      try {
        run_stage(*stage, shared, schedule);
      } catch (const ChannelAborted&) {
      } catch (...) {
        shared.fail(std::current_exception());
      }
    });
  EpochResult result;
  try {
    // With sync the micro-batches of a mini-batch go to stage 0 one after another (one queue entry each).
    const int64_t entries = sync ? options_.micro_batches : 1;
    while (max_updates == 0 || result.mini_batches < max_updates) {
      std::optional<data::Batch> batch = next();
      if (!batch) break;
      std::optional<int64_t> slot = shared.free_slots.pop();
      SPRINT_ASSERT(slot.has_value(), "the pipeline's input ring closed");
      Shared::Slot& s = shared.ring[static_cast<size_t>(*slot)];
      if (s.released) s.released->block(stream_);  // stage 0 (and so the last stage) is done with it
      if (!s.inputs.defined() || s.inputs.shape() != batch->inputs.shape()) {
        s.inputs = Tensor::empty(batch->inputs.shape(), batch->inputs.dtype(), stream_.allocator(),
                                 batch->inputs.memory_format());
        s.labels = Tensor::empty(batch->labels.shape(), batch->labels.dtype(), stream_.allocator());
      }
      ops::copy(stream_, batch->inputs, s.inputs);
      ops::copy(stream_, batch->labels, s.labels);
      s.size = batch->size;
      s.filled = mark(stream_);
      // Stage 0 frees the slots in the order it was fed them: mini-batch i always lands in slot i % ring
      // size.
      const int64_t fed_index = result.mini_batches;
      SPRINT_ASSERT(fed_index % static_cast<int64_t>(shared.ring.size()) == *slot, "ring slot out of order");
      for (int64_t e = 0; e < std::min(entries, batch->size); ++e) shared.fed.push(fed_index);
      ++result.mini_batches;
      result.samples += batch->size;
    }
  } catch (const ChannelAborted&) {
  } catch (...) {
    shared.fail(std::current_exception());
  }
  shared.fed.close();
  for (std::thread& t : threads_) t.join();
  for (auto& s : stages_) stream_.wait_for(s->stream);  // the run's later work sees every stage's
  if (shared.loss_sum.device() != loss_sum.device())
    ops::axpby(stream_, {.a = ops::to_stream_device(stream_, shared.loss_sum), .b = loss_sum, .out = loss_sum});
  wall_seconds_ += seconds_since(started);
  cpu.set_num_threads(threads);
  if (shared.error) std::rethrow_exception(shared.error);
  return result;
}

}  // namespace sprint::train
