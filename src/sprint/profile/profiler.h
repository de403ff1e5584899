// profiler.h: Profiler, which times N training steps after W warm-up steps, layer by layer. It is the
// nn::LayerObserver the trainer puts in RunContext for a profiled step (containers report each child's
// forward and backward with its name; the profiler keeps the path), plus named regions the trainer opens
// itself (data wait, model, loss, optimizer). On the CPU spans are timed with the host's steady clock; on
// CUDA with timing events recorded on the compute stream around each span (and NVTX ranges for Nsight),
// resolved once at the end of the step: no host wait per layer. Steps that are not profiled get a null
// observer: nothing is called, nothing is timed.
//
// Stream semantics: one stream (the trainer's, or a pipeline stage's: each stage has a profiler of its own, used
// by the stage's thread alone). A profiled step begins by waiting for that stream (so that
// the device's event times and the host clock share a start) and ends by waiting for it once.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sprint/nn/layer_observer.h"
#include "sprint/profile/profile_data.h"
#include "sprint/runtime/stream.h"

namespace sprint::profile {

struct ProfilerOptions {
  int64_t warmup_steps = 5;  ///< steps run unprofiled first (buffers, algorithm choices, caches settle)
  int64_t steps = 20;        ///< steps profiled after them (>= 1)
};

class Profiler final : public nn::LayerObserver {
 public:
  /// Times work queued on `stream`. Throws InvalidArgument for steps < 1 or warmup_steps < 0. `origin`: where
  /// the spans' clock is zero (default: now); profilers of a pipeline's stages share the pipeline's, so that
  /// their spans line up in one trace.
  Profiler(const Stream& stream, const ProfilerOptions& options,
           std::optional<std::chrono::steady_clock::time_point> origin = std::nullopt);
  ~Profiler() override;
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  /// Starts the next training step. Returns the observer for the step's RunContext: this while the step is
  /// one of the profiled ones, else null.
  nn::LayerObserver* begin_step();
  /// Ends the step begun by begin_step (CUDA: waits for the stream once and resolves the step's events) and
  /// samples the allocators.
  void end_step();
  /// Forgets the step begun by begin_step (the loader had no batch left): it does not count.
  void discard_step();
  /// True between begin_step and end_step of a profiled step.
  bool recording() const { return recording_; }
  /// True once every profiled step has ended.
  bool finished() const { return n_recorded_ >= options_.steps; }

  /// A region of the step the trainer times itself ("data wait", "model", "loss", "optimizer"); regions and
  /// layers nest. Data waits are timed on the host, everything else on the stream.
  void begin_region(std::string_view name, Category category);
  void end_region();

  void layer_begin(const nn::RunContext& ctx, std::string_view name, const nn::Module& module,
                   nn::Phase phase, const Tensor& input) override;
  void layer_end(const nn::RunContext& ctx, std::string_view name, const nn::Module& module,
                 nn::Phase phase) override;

  /// The profiled steps so far.
  const ProfileData& data() const { return data_; }

 private:
  struct Open {
    size_t span;
    size_t path_length;  // path_ before this span (layers append their name)
    int begin_event;     // -1: host-timed
  };
  struct Pending {  // a device span waiting for end_step to read its events
    size_t span;
    int begin_event, end_event;
  };
  struct ForwardInput {  // what a layer's forward saw, for the cost of its backward
    Shape shape;
    DType dtype = DType::kF32;
    bool known = false;
  };

  int32_t name_index(const std::string& name);
  /// Opens a span; close() restores path_ to `path_length` characters.
  void open(int32_t name, Category category, Track track, const nn::LayerCost& cost, size_t path_length);
  void close();
  int record_event();
  int64_t now_ns() const;

  Stream stream_;
  ProfilerOptions options_;
  bool device_timing_;
  std::chrono::steady_clock::time_point origin_;
  ProfileData data_;
  std::unordered_map<std::string, int32_t> index_;
  std::vector<ForwardInput> forward_inputs_;  // per name
  int64_t n_begun_ = 0, n_recorded_ = 0;
  bool recording_ = false;
  size_t step_span_ = 0;
  std::string path_;
  std::vector<Open> open_;
  int depth_[2] = {0, 0};      // per Track
  std::vector<Event> events_;  // CUDA timing events, reused every step
  int n_events_ = 0;           // used in this step
  int step_event_ = -1;
  int64_t step_start_ns_ = 0;
  std::vector<Pending> pending_;
};

/// Times a region of `profiler` while alive; does nothing when the profiler is null or not recording, or when
/// it is destroyed by an exception (the step is then abandoned).
class ProfileRegion {
 public:
  ProfileRegion(Profiler* profiler, std::string_view name, Category category)
      : profiler_(profiler != nullptr && profiler->recording() ? profiler : nullptr),
        exceptions_(std::uncaught_exceptions()) {
    if (profiler_ != nullptr) profiler_->begin_region(name, category);
  }
  ~ProfileRegion() noexcept(false) {
    if (profiler_ != nullptr && std::uncaught_exceptions() == exceptions_) profiler_->end_region();
  }
  ProfileRegion(const ProfileRegion&) = delete;
  ProfileRegion& operator=(const ProfileRegion&) = delete;

 private:
  Profiler* profiler_;
  int exceptions_;
};

}  // namespace sprint::profile
