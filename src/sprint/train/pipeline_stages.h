// pipeline_stages.h: cutting a sequential model into the consecutive stages of a pipeline, by layer index or
// balanced by each layer's measured forward + backward time. The layers are the model's top-level modules
// with nested Sequentials expanded (VGG's "features" becomes its convolutions, BatchNorms, ReLUs and pools; a
// ResNet's "layer1" its blocks), so that a stage boundary can fall inside them.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "sprint/nn/sequential.h"

namespace sprint::train {

/// A model's layers in pipeline order: (dotted name, module), nested Sequentials expanded.
using PipelineLayers = std::vector<std::pair<std::string, nn::ModulePtr>>;
PipelineLayers pipeline_layers(const nn::Sequential& net);

/// Where stage k begins: boundaries[k] is the index of its first layer (boundaries[0] == 0), strictly
/// increasing, each below the number of layers.
using StageBoundaries = std::vector<size_t>;

/// K stages of as equal a number of layers as can be (the first ones take the remainder).
StageBoundaries boundaries_by_index(size_t layers, int stages);
/// K stages of consecutive layers whose largest total cost is the smallest possible (costs: one per layer, >=
/// 0).
StageBoundaries boundaries_balanced(const std::vector<double>& layer_costs, int stages);
/// Checks `boundaries` against a model of `layers` layers; InvalidArgument naming the problem.
void check_boundaries(const StageBoundaries& boundaries, size_t layers);
/// "0-3 | 4-6 | 7-9": the layer range of each stage.
std::string describe_boundaries(const StageBoundaries& boundaries, size_t layers);

/// The stages as Sequential views of `net`'s pipeline_layers (the modules are shared, keeping their names):
/// running them one after another is running `net`.
std::vector<std::shared_ptr<nn::Sequential>> split_stages(const nn::Sequential& net,
                                                          const StageBoundaries& boundaries);

/// Mean forward + backward seconds of each of `net`'s pipeline_layers over `steps` training steps on
/// `inputs` (after one warm-up step), timed by the profiler (profile::Profiler: the host clock on the CPU,
/// events on a GPU stream, no wait per layer); the loss and optimizer are not timed.
/// Parameter gradients are left written (the caller zeroes them before training).
std::vector<double> measure_layer_seconds(nn::Sequential& net, nn::RunContext ctx, const Tensor& inputs,
                                          int steps);

}  // namespace sprint::train
