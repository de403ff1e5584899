// profiler.cpp: span recording (host clock or CUDA events), layer paths, step boundaries, allocator samples.
#include "sprint/profile/profiler.h"

#include <cmath>

#include "sprint/config.h"
#include "sprint/core/error.h"
#include "sprint/runtime/device_context.h"
#if SPRINT_HAS_CUDA
#include "sprint/runtime/cuda/cuda_runtime_api.h"
#endif

namespace sprint::profile {
namespace {

Category category_of(nn::Phase phase) {
  switch (phase) {
    case nn::Phase::kForward:
      return Category::kForward;
    case nn::Phase::kBackward:
      return Category::kBackward;
  }
  return Category::kForward;
}

int track_index(Track track) {
  return track == Track::kHost ? 0 : 1;
}

}  // namespace

Profiler::Profiler(const Stream& stream, const ProfilerOptions& options,
                   std::optional<std::chrono::steady_clock::time_point> origin)
    : stream_(stream),
      options_(options),
      device_timing_(stream.valid() && stream.device().is_cuda()),
      origin_(origin.value_or(std::chrono::steady_clock::now())) {
  SPRINT_CHECK(stream.valid(), "the profiler needs a stream to time");
  SPRINT_CHECK(options.steps >= 1, "profile steps must be >= 1, got {}", options.steps);
  SPRINT_CHECK(options.warmup_steps >= 0, "profile warm-up steps must be >= 0, got {}", options.warmup_steps);
  data_.device = device_name(stream.device());
  data_.device_timing = device_timing_;
  data_.warmup_steps = options.warmup_steps;
}

Profiler::~Profiler() = default;

int64_t Profiler::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin_)
      .count();
}

int32_t Profiler::name_index(const std::string& name) {
  const auto found = index_.find(name);
  if (found != index_.end()) return found->second;
  const auto index = static_cast<int32_t>(data_.names.size());
  data_.names.push_back(name);
  data_.kinds.emplace_back();
  forward_inputs_.emplace_back();
  index_.emplace(name, index);
  return index;
}

int Profiler::record_event() {
  if (static_cast<size_t>(n_events_) == events_.size()) events_.emplace_back(stream_.context(), true);
  events_[static_cast<size_t>(n_events_)].record(stream_);
  return n_events_++;
}

nn::LayerObserver* Profiler::begin_step() {
  const int64_t step = n_begun_++;
  recording_ = step >= options_.warmup_steps && n_recorded_ < options_.steps;
  if (!recording_) return nullptr;
  // The step starts on an idle stream: event times measured from step_event_ then line up with the host
  // clock.
  stream_.synchronize();
  open_.clear();
  pending_.clear();
  path_.clear();
  depth_[0] = depth_[1] = 0;
  n_events_ = 0;
  step_start_ns_ = now_ns();
  if (device_timing_) step_event_ = record_event();
  step_span_ = data_.spans.size();
  data_.spans.push_back({.name = name_index(fmt::format("step {}", step)),
                         .category = Category::kStep,
                         .track = Track::kHost,
                         .depth = 0,
                         .start_ns = step_start_ns_});
  depth_[track_index(Track::kHost)] = 1;
  return this;
}

void Profiler::end_step() {
  if (!recording_) return;
  SPRINT_CHECK(open_.empty(), "profiler: the step ended with {} region(s) or layer(s) still open",
               open_.size());
  if (device_timing_) {
    const int end = record_event();
    events_[static_cast<size_t>(end)].synchronize();
    const Event& start = events_[static_cast<size_t>(step_event_)];
    const auto at = [&](int event) {
      const double ms = events_[static_cast<size_t>(event)].elapsed_ms_since(start);
      return step_start_ns_ + std::llround(static_cast<double>(ms) * 1e6);
    };
    for (const Pending& p : pending_) {
      data_.spans[p.span].start_ns = at(p.begin_event);
      data_.spans[p.span].end_ns = at(p.end_event);
    }
  }
  int64_t end_ns = now_ns();
  // The device's clock may run a little past the host's: the step span holds every span of the step.
  for (size_t i = step_span_ + 1; i < data_.spans.size(); ++i)
    end_ns = std::max(end_ns, data_.spans[i].end_ns);
  data_.spans[step_span_].end_ns = end_ns;
  DeviceContext& context = stream_.context();
  data_.memory.clear();
  data_.memory.push_back({data_.device, context.allocator().stats()});
  if (!stream_.device().is_cpu()) {
    data_.memory.push_back({data_.device + " pinned host", context.host_allocator().stats()});
    data_.memory.push_back({"cpu", cpu_allocator().stats()});
  }
  recording_ = false;
  ++n_recorded_;
}

void Profiler::discard_step() {
  --n_begun_;
  if (!recording_) return;
  data_.spans.resize(step_span_);
  recording_ = false;
}

void Profiler::open(int32_t name, Category category, Track track, const nn::LayerCost& cost,
                    size_t path_length) {
  SPRINT_CHECK(recording_, "profiler: a region or layer began outside a profiled step");
  int& depth = depth_[track_index(track)];
  const size_t span = data_.spans.size();
  data_.spans.push_back({.name = name,
                         .category = category,
                         .track = track,
                         .depth = depth++,
                         .flops = cost.flops,
                         .bytes = cost.bytes});
  int begin_event = -1;
  if (track == Track::kDevice) {
    begin_event = record_event();
#if SPRINT_HAS_CUDA
    cuda::nvtx_range_push(data_.names[static_cast<size_t>(name)].c_str());
#endif
  } else {
    data_.spans[span].start_ns = now_ns();
  }
  open_.push_back({span, path_length, begin_event});
}

void Profiler::close() {
  SPRINT_CHECK(!open_.empty(), "profiler: a region or layer ended that had not begun");
  const Open o = open_.back();
  open_.pop_back();
  Span& s = data_.spans[o.span];
  --depth_[track_index(s.track)];
  if (o.begin_event >= 0) {
    pending_.push_back({o.span, o.begin_event, record_event()});
#if SPRINT_HAS_CUDA
    cuda::nvtx_range_pop();
#endif
  } else {
    s.end_ns = now_ns();
  }
  path_.resize(o.path_length);
}

void Profiler::begin_region(std::string_view name, Category category) {
  // Waiting for the loader is host time; everything else is work queued on the stream.
  const Track track = device_timing_ && category != Category::kData ? Track::kDevice : Track::kHost;
  open(name_index(std::string(name)), category, track, {}, path_.size());
}

void Profiler::end_region() {
  close();
}

void Profiler::layer_begin(const nn::RunContext& ctx, std::string_view name, const nn::Module& module,
                           nn::Phase phase, const Tensor& input) {
  (void)ctx;
  const size_t before = path_.size();
  if (!path_.empty()) path_ += '.';
  path_ += name;
  const int32_t index = name_index(path_);
  if (data_.kinds[static_cast<size_t>(index)].empty()) data_.kinds[static_cast<size_t>(index)] = module.type_name();
  ForwardInput& seen = forward_inputs_[static_cast<size_t>(index)];
  nn::LayerCost cost;
  switch (phase) {
    case nn::Phase::kForward:
      if (input.defined()) {
        seen = {input.shape(), input.dtype(), true};
        cost = module.cost(seen.shape, seen.dtype, phase);
      }
      break;
    case nn::Phase::kBackward:
      if (seen.known) cost = module.cost(seen.shape, seen.dtype, phase);
      break;
  }
  // close() cuts the path back to what it was before this layer's name.
  open(index, category_of(phase), device_timing_ ? Track::kDevice : Track::kHost, cost, before);
}

void Profiler::layer_end(const nn::RunContext& ctx, std::string_view name, const nn::Module& module,
                         nn::Phase phase) {
  (void)ctx, (void)name, (void)module, (void)phase;
  close();
}

}  // namespace sprint::profile
