// pipeline_stages.cpp: stage boundaries (by index, balanced by cost), stage views, per-layer timing (the
// profiler's figures).
#include "sprint/train/pipeline_stages.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/profile/profiler.h"

namespace sprint::train {

void check_boundaries(const StageBoundaries& boundaries, size_t layers) {
  SPRINT_CHECK(!boundaries.empty(), "a pipeline needs at least one stage");
  SPRINT_CHECK(boundaries.size() <= layers, "{} stages need at least {} layers; the model has {}",
               boundaries.size(), boundaries.size(), layers);
  SPRINT_CHECK(boundaries[0] == 0, "the first stage must begin at layer 0, not {}", boundaries[0]);
  for (size_t k = 1; k < boundaries.size(); ++k)
    SPRINT_CHECK(boundaries[k] > boundaries[k - 1] && boundaries[k] < layers,
                 "stage {} begins at layer {}: stage starts must increase and stay below the {} layers", k,
                 boundaries[k], layers);
}

StageBoundaries boundaries_by_index(size_t layers, int stages) {
  SPRINT_CHECK(stages >= 1, "a pipeline needs at least one stage, got {}", stages);
  const size_t k = static_cast<size_t>(stages);
  SPRINT_CHECK(k <= layers, "{} stages need at least {} layers; the model has {}", stages, stages, layers);
  StageBoundaries b;
  size_t at = 0;
  for (size_t s = 0; s < k; ++s) {
    b.push_back(at);
    at += layers / k + (s < layers % k ? 1 : 0);
  }
  return b;
}

StageBoundaries boundaries_balanced(const std::vector<double>& layer_costs, int stages) {
  const size_t n = layer_costs.size();
  SPRINT_CHECK(stages >= 1 && static_cast<size_t>(stages) <= n,
               "{} stages need at least {} layers; the model has {}", stages, stages, n);
  for (double c : layer_costs) SPRINT_CHECK(c >= 0.0, "layer costs must be >= 0, got {}", c);
  const size_t k = static_cast<size_t>(stages);
  std::vector<double> prefix(n + 1, 0.0);
  for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + layer_costs[i];
  // best[s][i]: the smallest largest-stage cost of putting layers 0..i-1 into s stages; cut[s][i]: where the
  // last of them begins. O(k·n²), n is a model's layer count.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(k + 1, std::vector<double>(n + 1, inf));
  std::vector<std::vector<size_t>> cut(k + 1, std::vector<size_t>(n + 1, 0));
  best[0][0] = 0.0;
  for (size_t s = 1; s <= k; ++s)
    for (size_t i = s; i <= n; ++i)
      for (size_t j = s - 1; j < i; ++j) {
        const double cost = std::max(best[s - 1][j], prefix[i] - prefix[j]);
        if (cost < best[s][i]) {
          best[s][i] = cost;
          cut[s][i] = j;
        }
      }
  StageBoundaries b(k);
  size_t end = n;
  for (size_t s = k; s >= 1; --s) {
    b[s - 1] = cut[s][end];
    end = b[s - 1];
  }
  return b;
}

std::string describe_boundaries(const StageBoundaries& boundaries, size_t layers) {
  std::string out;
  for (size_t k = 0; k < boundaries.size(); ++k) {
    const size_t last = (k + 1 < boundaries.size() ? boundaries[k + 1] : layers) - 1;
    if (!out.empty()) out += " | ";
    out += boundaries[k] == last ? std::to_string(last) : fmt::format("{}-{}", boundaries[k], last);
  }
  return out;
}

namespace {
void expand(const nn::Sequential& net, const std::string& prefix, PipelineLayers& out) {
  auto& mutable_net = const_cast<nn::Sequential&>(net);  // children() is not const; nothing is changed
  const auto children = mutable_net.children();
  for (size_t i = 0; i < net.size(); ++i) {
    const std::string name = prefix.empty() ? children[i].first : prefix + "." + children[i].first;
    if (const auto* nested = dynamic_cast<const nn::Sequential*>(net.at(i).get())) {
      expand(*nested, name, out);
    } else {
      out.emplace_back(name, net.at(i));
    }
  }
}
}  // namespace

PipelineLayers pipeline_layers(const nn::Sequential& net) {
  PipelineLayers out;
  expand(net, "", out);
  return out;
}

std::vector<std::shared_ptr<nn::Sequential>> split_stages(const nn::Sequential& net,
                                                          const StageBoundaries& boundaries) {
  const PipelineLayers layers = pipeline_layers(net);
  check_boundaries(boundaries, layers.size());
  std::vector<std::shared_ptr<nn::Sequential>> stages;
  for (size_t k = 0; k < boundaries.size(); ++k) {
    auto stage = std::make_shared<nn::Sequential>();
    const size_t end = k + 1 < boundaries.size() ? boundaries[k + 1] : layers.size();
    for (size_t i = boundaries[k]; i < end; ++i) stage->add(layers[i].second, layers[i].first);
    stage->set_training(net.training());
    stages.push_back(std::move(stage));
  }
  return stages;
}

std::vector<double> measure_layer_seconds(nn::Sequential& net, nn::RunContext ctx, const Tensor& inputs,
                                          int steps) {
  SPRINT_CHECK(steps >= 1, "measure_layer_seconds needs at least one step, got {}", steps);
  // The first step warms up (buffers, primitives, weight reorders); on a GPU the layers are timed with events.
  profile::Profiler profiler(ctx.stream, {.warmup_steps = 1, .steps = steps});
  Tensor dy;
  for (int s = 0; s <= steps; ++s) {
    ctx.observer = profiler.begin_step();
    const Tensor y = net.forward(ctx, inputs);
    if (!dy.defined()) dy = ops::full(ctx.stream, y.shape(), y.dtype(), 1.0 / static_cast<double>(y.dim(0)));
    (void)net.backward(ctx, dy);
    profiler.end_step();
  }
  // A pipeline layer's profile path is its dotted name ("features.3"); the spans of the Sequentials around
  // them and of the modules inside them are not counted.
  const PipelineLayers layers = pipeline_layers(net);
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < layers.size(); ++i) index.emplace(layers[i].first, i);
  std::vector<double> seconds(layers.size(), 0.0);
  const profile::ProfileData& data = profiler.data();
  for (const profile::Span& span : data.spans) {
    if (span.category != profile::Category::kForward && span.category != profile::Category::kBackward) continue;
    const auto it = index.find(data.names[static_cast<size_t>(span.name)]);
    if (it != index.end()) seconds[it->second] += static_cast<double>(span.end_ns - span.start_ns) * 1e-9;
  }
  for (double& t : seconds) t /= steps;
  return seconds;
}

}  // namespace sprint::train
