// trainer.h: the training loop. One epoch = shuffled batches through forward, loss, backward and the optimizer
// step (with optional gradient accumulation), then an evaluation pass over the test set. Loss and accuracy are
// accumulated on the device and read once per epoch, so a GPU run never waits on the host mid-epoch.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "sprint/data/augment.h"
#include "sprint/data/batch_source.h"
#include "sprint/data/dataset.h"
#include "sprint/dist/process_group.h"
#include "sprint/nn/models.h"
#include "sprint/nn/replica_sum.h"
#include "sprint/optim/optimizer.h"
#include "sprint/optim/loss_scaler.h"
#include "sprint/optim/schedule.h"
#include "sprint/profile/profiler.h"
#include "sprint/train/evaluator.h"
#include "sprint/train/gradient_buckets.h"
#include "sprint/train/lookahead.h"
#include "sprint/train/model_averaging.h"
#include "sprint/train/pipeline.h"
#include "sprint/train/progress.h"

namespace sprint::train {

struct TrainerOptions {
  int64_t batch_size = 64;
  int64_t eval_batch_size = 1000;
  int accumulate_steps = 1;  ///< optimizer step every k batches, gradients averaged over them
  uint64_t seed = 0;         ///< shuffling and dropout
  int num_workers = 1;       ///< loader threads (0 = assemble batches on the training thread)
  int prefetch = 2;          ///< batches prepared ahead
  Device device = kCPU;
  DType dtype = DType::kF32;                        ///< input dtype
  MemoryFormat format = MemoryFormat::kContiguous;  ///< image inputs: NCHW or channels-last
  /// Layout of the activations from the first convolution on (nn::RunContext::activation_format); unset: the
  /// inputs' layout throughout. Conv models on the CPU run channel-blocked (ops::preferred_activation_format).
  std::optional<MemoryFormat> activation_format;
  /// Keep the whole data set on the device and gather batches there (data::ResidentLoader) instead of the
  /// threaded host loader.
  bool resident_data = false;
  /// CUDA only: capture one full training step (forward, loss, backward, optimizer, loss accumulation) into a
  /// CUDA graph after one eager warm-up step and replay it for every full batch. Needs resident_data (fixed
  /// batch addresses), accumulate_steps == 1 and no on_step hook (the host does not run replayed steps). Dropout
  /// masks still change every step (the graph advances their Philox state on the device) and equal eager ones, and
  /// so do the schedule's values (selected on the device from the run's plan).
  bool cuda_graph = false;
  /// Learning rate (and momentum) of every optimizer step t, set on the optimizer before the step; null: the
  /// optimizer's own. With cuda_graph the whole run's values are planned on the device (Optimizer::plan_steps) and
  /// each replay of the captured step selects its own.
  std::shared_ptr<const optim::Schedule> schedule;
  /// Dynamic loss scaling (GradScaler's semantics: optim/loss_scaler.h) for half-precision gradients; unset: off.
  /// Not with cuda_graph (the skip decision reads a flag on the host every step).
  std::optional<optim::LossScalerOptions> loss_scaling;
  /// Training batches: drop the short last batch of each epoch (airbench: 48 steps of 1024).
  bool drop_last = false;
  /// Stop after this many optimizer steps in all (0: no limit); the epoch that reaches it ends there.
  int64_t max_steps = 0;
  /// Weight averaging every k optimizer steps (airbench94's lookahead); every == 0: off.
  LookaheadOptions lookahead;
  /// Training batches only (image data sets): translation, flip and cutout drawn per (seed, epoch, sample).
  data::AugmentOptions augment;
  /// Test-time augmentation in evaluate(), as airbench94: 0 = the image alone; 1 = 0.5·(logits of the image) +
  /// 0.5·(logits of its mirror); 2 = 0.25·identity + 0.25·mirror + 0.125 each for the four views mirror-or-not ×
  /// translated by one pixel (reflect-padded crop at offset -1,-1 and +1,+1). Loss and accuracy are computed from
  /// the weighted logits. Image data sets only.
  int tta = 0;
  /// Apply `tta` in every epoch's evaluation too; false (airbench94's way): epochs evaluate the plain image and
  /// evaluate() (called after training) applies `tta`.
  bool tta_every_epoch = false;
  bool progress = false;     ///< live progress line on stderr
  /// Called after every optimizer step with (epoch, step index in epoch, steps per epoch): LR schedules hook here.
  std::function<void(int64_t, int64_t, int64_t)> on_step;
  /// Mid-epoch checkpoints: called after every `checkpoint_every`-th optimizer step of the run (not after an
  /// epoch's last batch: the caller saves at epoch ends), when Trainer::state() describes the run so far.
  int64_t checkpoint_every = 0;
  std::function<void()> on_checkpoint;
  /// A non-finite training loss throws TrainingDiverged naming the epoch and step (on the CPU checked after every
  /// step; on CUDA at the end of the epoch, so as not to wait on the device); false: train on regardless.
  bool stop_on_nonfinite = true;
  /// Set (e.g. by a SIGINT handler) to end the run after the current optimizer step; run_epoch then returns early
  /// and interrupted() is true.
  const std::atomic<bool>* stop_requested = nullptr;
  /// Per-layer timing of some training steps (profile/profiler.h): every batch is a profiler step, its data wait,
  /// model forward and backward, loss and optimizer timed as regions and the layers through the RunContext's
  /// observer; null: off, nothing is timed. Must outlive the trainer and time the trainer's stream. Not with
  /// cuda_graph (replayed steps call no layer).
  profile::Profiler* profiler = nullptr;
  /// Evaluate on the test set at the end of every epoch; false (`sprint profile`): EpochStats::test stays empty.
  bool evaluate_epochs = true;
  /// Pipeline model parallelism (train/pipeline.h): the model's layers in stages on threads of their own, each
  /// stage with its own optimizer (the `optimizer` given to the trainer is then used for nothing but its
  /// description); unset: plain training. CPU only; not with accumulation, CUDA graphs, loss scaling, lookahead,
  /// the profiler or mid-epoch checkpoints. A stop request ends the run once the mini-batches in flight are done.
  std::optional<PipelineOptions> pipeline;
  /// Data-parallel training (dist/process_group.h): every rank builds the same model and trainer; rank 0's
  /// weights and buffers are broadcast at construction, each rank trains on its slice of every global batch of
  /// batch_size × ranks samples (data/shard.h), and the gradients are averaged over the ranks before each
  /// optimizer step, so the ranks keep identical weights and together take the steps of one process with the
  /// larger batch. Epoch losses and sample counts are the whole job's. Null or a group of one: alone. Must
  /// outlive the trainer; not with the pipeline or CUDA graphs.
  dist::ProcessGroup* process_group = nullptr;
  /// Data parallelism: gradients are averaged in flat buckets of about this many bytes (train/gradient_buckets.h).
  int64_t bucket_bytes = int64_t{25} << 20;
  /// Data parallelism: start each bucket's all-reduce during backward, as soon as its gradients are final (off:
  /// every bucket after backward).
  bool overlap_allreduce = true;
  /// Data parallelism: BatchNorm layers normalise with the batch statistics of every rank's batch together
  /// (synchronised batch norm; two all-reduces per layer and step); off: each rank with its own batch's.
  bool sync_batch_norm = false;
  /// Data parallelism by local SGD instead of gradient averaging (FISH's distributed training): every rank trains
  /// on the whole training set in its own order and augmentation (seed + rank) with its own optimizer state, and
  /// `averager` replaces the ranks' weights by their mean every `average_every` optimizer steps and after the
  /// run's last step. Between merges each rank evaluates its own weights. 0: gradients averaged every step.
  int64_t average_every = 0;
  ModelAverager* averager = nullptr;
};

/// Where a run stands between two optimizer steps: with the model's and the optimizer's state, all a checkpoint
/// needs to continue the run bit for bit (the data order, augmentation and model schedule are functions of
/// (seed, epoch, position)).
struct TrainerState {
  int64_t epoch = 1;       ///< 1-based epoch to continue
  int64_t batch = 0;       ///< batches of that epoch already trained (0: the epoch has not begun)
  int64_t samples = 0;     ///< samples of that epoch already trained
  int64_t steps_done = 0;  ///< optimizer steps of the whole run
  GeneratorState rng;      ///< dropout's generator
  Tensor loss_sum;         ///< the epoch's running sum of losses: f32 0-d host tensor
  /// The weight averages (lookahead), named as the state they average; empty without lookahead.
  std::vector<nn::NamedBuffer> lookahead;
  /// Dynamic loss scaling: the scaler's f32 (3) host state and its count of skipped steps; undefined without.
  Tensor loss_scale;
  int64_t skipped_steps = 0;
  /// Pipelined runs: where each stage begins (pipeline_stages.h) and the dropout generators of stages 1..K-1.
  StageBoundaries pipeline_boundaries;
  std::vector<GeneratorState> stage_generators;
  /// Pipelined SpecTrain: the last gradient of every parameter (the prediction's g), named as the parameters.
  std::vector<nn::NamedBuffer> gradients;
};

struct EpochStats {
  int64_t epoch = 0;  ///< 1-based
  double train_loss = 0.0;
  double train_seconds = 0.0;  ///< the training loop only (no evaluation)
  double samples_per_second = 0.0;
  int64_t train_samples = 0;
  EvalStats test;
  /// Dynamic loss scaling (0 without): the scale at the epoch's end, and the steps it skipped (inf/NaN gradients).
  double loss_scale = 0.0;
  int64_t skipped_steps = 0;
};

class Trainer {
 public:
  /// The model's parameters must already live on options.device. Datasets must outlive the trainer.
  Trainer(nn::Model& model, optim::Optimizer& optimizer, const data::Dataset& train_set,
          const data::Dataset& test_set, const TrainerOptions& options);
  ~Trainer();

  /// Trains one epoch (1-based index), then evaluates on the test set.
  EpochStats run_epoch(int64_t epoch, int64_t n_epochs);
  /// Loss and accuracy of the model (eval mode) on the test set.
  EvalStats evaluate() { return evaluate_with(options_.tta); }
  /// Loss and accuracy with test-time augmentation level `tta` (0, 1 or 2).
  EvalStats evaluate_with(int tta);
  /// The pipeline's stages so far (empty without TrainerOptions::pipeline or before the first epoch).
  std::vector<StageReport> pipeline_stages() const;
  /// The optimizers whose state a checkpoint holds: the trainer's, or with a pipeline each stage's (the pipeline
  /// is cut here if no epoch has run yet: after restore() at the saved boundaries, or at the options' ones).
  std::vector<optim::Optimizer*> checkpointed_optimizers();
  /// "0-3 | 4-9": where the pipeline cut the model (empty before the first epoch or without a pipeline).
  std::string pipeline_boundaries() const;
  /// The pipeline's traced passes and its epochs' wall time (empty / 0 without a pipeline).
  std::vector<PipelineSpan> pipeline_spans() const { return pipeline_ ? pipeline_->spans() : std::vector<PipelineSpan>{}; }
  double pipeline_wall_seconds() const { return pipeline_ ? pipeline_->wall_seconds() : 0.0; }
  /// Each stage's profile (PipelineOptions::profile), stage order; empty when not profiled.
  std::vector<const profile::ProfileData*> pipeline_profiles() const {
    return pipeline_ ? pipeline_->profiles() : std::vector<const profile::ProfileData*>{};
  }
  /// Optimizer steps taken so far, and the planned total for a run of n_epochs (max_steps caps it).
  int64_t steps_done() const { return steps_done_; }
  /// Data parallelism: gradient buckets all-reduced so far, and how many of them started during backward.
  int64_t buckets_reduced() const { return buckets_reduced_; }
  int64_t buckets_started_during_backward() const { return buckets_started_early_; }
  int64_t total_steps(int64_t n_epochs) const;
  /// True once max_steps optimizer steps were taken, or the run was interrupted (stop_requested).
  bool finished() const { return interrupted_ || (options_.max_steps > 0 && steps_done_ >= options_.max_steps); }
  /// True when stop_requested ended the run.
  bool interrupted() const { return interrupted_; }

  /// The run's position and trainer-held state, valid between optimizer steps (in on_checkpoint or between
  /// epochs); tensors are host copies except lookahead's (on the device).
  TrainerState state();
  /// Continues from `state` (before the first run_epoch): the next run_epoch(state.epoch) starts at state.batch.
  /// `find_average(name)` gives the saved lookahead averages (lookahead.h). The model and optimizer are restored
  /// by the caller.
  void restore(const TrainerState& state, const std::function<Tensor(const std::string&)>& find_average,
               const std::function<Tensor(const std::string&)>& find_gradient = {});

 private:
  nn::Model& model_;
  optim::Optimizer& optimizer_;
  const data::Dataset& test_set_;
  TrainerOptions options_;
  Stream stream_;
  Generator rng_;
  std::unique_ptr<data::BatchSource> train_loader_;
  std::unique_ptr<data::BatchSource> test_loader_;
  struct GraphState;
  std::unique_ptr<GraphState> graph_;
  ProgressLine progress_;
  Evaluator evaluator_;
  Tensor loss_sum_;                                 // 0-d accumulator on the device
  dist::ProcessGroup* group_ = nullptr;             // data parallelism: set when there are 2 ranks or more
  std::unique_ptr<GradientBuckets> buckets_;         // with group_: the gradient all-reduce
  std::unique_ptr<nn::ReplicaSum> replica_sum_;      // with group_ and sync_batch_norm
  int64_t buckets_reduced_ = 0, buckets_started_early_ = 0;
  nn::BufferPool step_buffers_;  // layer outputs and input gradients of a step, shared by all layers
  int64_t steps_done_ = 0;                          // optimizer steps over the whole run
  std::unique_ptr<Lookahead> lookahead_;            // from the weights before the first step
  int64_t epoch_ = 1, batch_ = 0, samples_ = 0;     // position: the batch the next step starts from
  bool interrupted_ = false;
  Tensor job_loss_at_stop_;  // data parallelism: the job's partial epoch loss when the ranks stopped (host f32)
  std::optional<TrainerState> resume_;              // where the next run_epoch continues (restore())
  std::optional<std::vector<GeneratorState>> pending_stage_generators_;  // restore() before the pipeline exists
  std::unique_ptr<optim::LossScaler> scaler_;       // dynamic loss scaling, when on
  std::vector<nn::ParameterPtr> scaled_params_;     // the model's parameters, for the scaler
  std::vector<Tensor> scaled_grads_;                // this step's gradients for the scaler (capacity reused)
  int64_t skipped_in_epoch_ = 0;
  std::unique_ptr<Pipeline> pipeline_;              // with TrainerOptions::pipeline, from the first epoch on

  /// One epoch's training through the pipeline, from its `first` batch on; returns (batches, samples).
  std::pair<int64_t, int64_t> pipelined_epoch(std::optional<data::Batch> first);

  /// After an optimizer step: lookahead averaging when due (`last`: the run's final step).
  void after_optimizer_step(int64_t total, bool last);
  bool stop_agreed();
  /// Cuts the pipeline (`sample`: the batch that times the layers when the stages are balanced; null when the
  /// boundaries are known) and gives its stages the generators restore() saw.
  void make_pipeline(const data::Batch* sample);

  /// One optimisation step on `batch` (forward, loss, backward, optimizer if the window is complete).
  /// Returns true when it ran the optimizer.
  bool train_step(nn::RunContext& ctx, const data::Batch& batch, int64_t step, int64_t steps);
  /// Replays (or captures, after one warm-up step) the whole step as a CUDA graph; false when not applicable.
  bool graph_step(nn::RunContext& ctx, const data::Batch& batch, int64_t step, int64_t steps);
};

}  // namespace sprint::train
