// pipeline.h: pipeline model parallelism. A sequential model is cut into K stages; each stage runs on its own
// thread (its own CPU cores' share) and, on a GPU, queues its work on a stream of its own; it passes activations
// forward and activation gradients back through hand-off queues, and updates its own weights with its own
// optimizer: asynchronous 1F1B with one update per mini-batch per stage (weight policies none / stash /
// spectrain), or GPipe's synchronous micro-batches (sync).
//
// On a GPU no stage waits on the host for the device in the steady state: each hand-off carries an event
// recorded on the producing stage's stream, the consuming stage's stream waits for it on the device, and the
// tensor is marked as used by the consumer (record_stream), so its memory is not reused before the consumer's
// work has run. The input ring is ordered the same way (filled on the run's stream, released by stage 0). The
// stages' streams wait for the run's stream when an epoch begins, and the run's stream for theirs when it ends.
// Busy and idle times are the stage threads' host times (on a GPU: queueing work and waiting for hand-offs).
// Stages may live on devices of their own (PipelineOptions::devices: one GPU each); hand-offs between devices
// are copies ordered by the same events.
//
// Profiling (PipelineOptions::profile): each stage has a profiler of its own, on its stream, used by its thread
// alone. A stage's step is one turn of its schedule: under 1F1B a forward (of a later mini-batch), a backward
// and the update; under sync one mini-batch's forwards, backwards and update. The first K - k - 1 forwards of
// stage k (the pipeline filling up) come before its first step. Its waits for hand-offs are regions of their
// own ("input wait", "activation wait", "gradient wait"), so each stage's table shows its layers and its idle
// time; the profilers share the pipeline's clock, so their spans line up with the stage spans in one trace.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/data/batch_source.h"
#include "sprint/nn/models.h"
#include "sprint/optim/optimizer.h"
#include "sprint/optim/schedule.h"
#include "sprint/profile/profiler.h"
#include "sprint/train/pipeline_stages.h"
#include "sprint/train/weight_versions.h"

namespace sprint::train {

/// What a traced interval of a stage was.
enum class PipelineSpanKind { kForward, kBackward, kUpdate };

struct PipelineOptions {
  int stages = 1;
  WeightPolicy policy = WeightPolicy::kNone;
  /// sync only: micro-batches per mini-batch (GPipe's M); the gradients of all of them make one update.
  int64_t micro_batches = 1;
  /// Where each stage begins (pipeline_stages.h); empty: balanced by the layers' measured time.
  StageBoundaries boundaries;
  /// Makes stage k's optimizer over the parameters of the stage's module (the run's optimizer settings).
  std::function<std::unique_ptr<optim::Optimizer>(nn::Module& stage)> make_optimizer;
  /// Testing: called on stage `stage`'s thread before each of its passes and updates (concurrently from every
  /// stage), e.g. to sleep for random times and shake the threads' timing. Null: nothing.
  std::function<void(int stage, PipelineSpanKind kind)> before_pass;
  /// Where each stage runs, one device per stage (stage k on GPU k: cuda:0,cuda:1,...); empty: every stage on
  /// the device of the run's stream. A stage on another device gets its layers' parameters (values, masters,
  /// gradients) and buffers moved there when the pipeline is made, and its optimizer's state lives there; each
  /// hand-off between devices is copied by the receiving stage on its stream (after the sender's event), and the
  /// sender's stream then waits for that copy before it can reuse the memory; the labels go to the last stage's
  /// device the same way. cpu:N (logical host devices) run the same code on one host.
  std::vector<Device> devices;
  /// Profile every stage's steps (warm-up and profiled steps counted per stage, over the run); nullopt: no
  /// profiling.
  std::optional<profile::ProfilerOptions> profile;
};

/// What one stage did, for the report.
struct StageReport {
  int stage = 0;
  size_t first_layer = 0, end_layer = 0;  ///< layers [first, end) of the model (pipeline_layers)
  std::string layer_names;                ///< "features.0 .. features.23" ("classifier" for one layer)
  Device device;                          ///< where the stage ran
  int64_t updates = 0;
  /// Measured forward-to-backward version gap (updates between a mini-batch's forward and its backward).
  double mean_staleness = 0.0;
  int64_t max_staleness = 0;
  VersionDifference version_difference;  ///< SpecTrain's s (spectrain only)
  StageWeights::PredictionError prediction_error;
  double busy_seconds = 0.0;  ///< in forward, backward and optimizer
  double idle_seconds = 0.0;  ///< waiting for an input or a gradient
};

/// "forward" / "backward" / "update"
const char* pipeline_span_kind_name(PipelineSpanKind kind);

/// One pass (or optimizer update) a stage ran, for the Chrome trace: nanoseconds since the pipeline was made.
struct PipelineSpan {
  int stage = 0;
  PipelineSpanKind kind = PipelineSpanKind::kForward;
  int64_t mini_batch = 0;
  int64_t micro_batch = 0;  ///< sync: the micro-batch; otherwise 0
  int64_t start_ns = 0, end_ns = 0;
};

class Pipeline {
 public:
  /// `model` lives on the device of `stream` (the CPU or one GPU). The stages are cut at construction (timing the layers on `sample` when no
  /// boundaries are given); `rng` is the run's dropout generator (stage 0 uses it, later stages forks of it).
  Pipeline(nn::Model& model, const PipelineOptions& options, const Stream& stream,
           std::optional<MemoryFormat> activation_format, Generator& rng, const data::Batch& sample);
  ~Pipeline();

  /// Trains on the batches `next` hands out (nullopt: the epoch's end) until it runs out or `max_updates`
  /// mini-batches were trained (0: no limit). Adds each batch's summed loss to `loss_sum` (f32 0-d on the
  /// stream's device). `schedule` (or null) sets each stage's lr and momentum before its update t (t counted
  /// over the whole run). Returns the mini-batches and samples trained.
  struct EpochResult {
    int64_t mini_batches = 0;
    int64_t samples = 0;
  };
  EpochResult train_epoch(const std::function<std::optional<data::Batch>()>& next, int64_t max_updates,
                          const optim::Schedule* schedule, const Tensor& loss_sum);

  const StageBoundaries& boundaries() const { return boundaries_; }
  std::vector<StageReport> reports() const;
  /// The first passes of every stage (at most kTracedSpansPerStage each), for the trace.
  std::vector<PipelineSpan> spans() const;
  static constexpr size_t kTracedSpansPerStage = 4096;
  /// The model's forward through the stages in turn, on the calling thread (evaluation while no epoch runs):
  /// stage k on its stream and device, the output on `ctx.stream`'s device. Needed when the stages live on
  /// several devices; with one device it equals the model's forward.
  Tensor forward(nn::RunContext& ctx, const Tensor& inputs);
  /// True when some stage runs on another device than the run's stream.
  bool spans_devices() const;
  /// Each stage's profile (stage order) when PipelineOptions::profile was given; otherwise empty.
  std::vector<const profile::ProfileData*> profiles() const;
  /// Wall time of the training epochs so far (the stages' busy time over it is their overlap).
  double wall_seconds() const { return wall_seconds_; }
  /// Updates each stage applied over the run (equal for every stage between epochs).
  int64_t updates() const;
  /// Between epochs (or after an interrupted epoch has drained): each stage's optimizer, stage order. Their
  /// parameters are the model's, so Optimizer::named_state with the model's paths names every slot as a run
  /// without the pipeline would.
  std::vector<optim::Optimizer*> optimizers() const;
  /// The dropout generators of stages 1..K-1 (stage 0 uses the run's), for checkpoints; and their restore.
  std::vector<GeneratorState> stage_generators() const;
  void restore_stage_generators(const std::vector<GeneratorState>& states);
  /// A resumed run: every stage has applied `updates` updates (the schedule's step, SpecTrain's version).
  void restore_updates(int64_t updates);

 private:
  struct Stage;
  struct Shared;
  void run_stage(Stage& stage, Shared& shared, const optim::Schedule* schedule);

  nn::Model& model_;
  PipelineOptions options_;
  Stream stream_;
  std::optional<MemoryFormat> activation_format_;
  Generator& rng_;
  StageBoundaries boundaries_;
  std::vector<std::unique_ptr<Stage>> stages_;
  std::chrono::steady_clock::time_point created_ = std::chrono::steady_clock::now();
  double wall_seconds_ = 0.0;
};

}  // namespace sprint::train
