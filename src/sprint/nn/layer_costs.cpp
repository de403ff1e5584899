// layer_costs.cpp: Module::cost of the layers that can say what a pass costs, in one place so that the
// formulas read side by side. FLOPs count a multiply-add as two; bytes are the minimum traffic (each tensor
// read or written once: inputs, outputs, parameters, gradients), so achieved bytes/s is a lower bound of what
// the kernels moved. Shape letters: x (N, C, H, W) -> y (N, K, P, Q), kernel R x S, G groups; Linear x (rows,
// I) -> y (rows, O).
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/pool.h"

namespace sprint::nn {
namespace {

int64_t element_size(DType dtype) {
  return static_cast<int64_t>(dtype_size(dtype));
}

// A pass that reads `reads` and writes `writes` tensors of n elements each, with `per_element` FLOPs each.
LayerCost elementwise(int64_t n, DType dtype, int64_t per_element, int64_t reads, int64_t writes) {
  return {.flops = per_element * n, .bytes = (reads + writes) * n * element_size(dtype)};
}

}  // namespace

// Conv2d. Forward: 2·N·K·(C/G)·R·S·P·Q (+ N·K·P·Q for the bias); x, w, y (+ bias). Backward: the weight
// gradient costs as much as the forward (+ N·K·P·Q for the bias gradient), the data gradient as much again
// when the layer computes it; dy, x, w, dw (+ dx).
LayerCost Conv2d::cost(const Shape& input, DType dtype, Phase phase) const {
  const Shape out = output_shape(input);
  const int64_t n = input[0], c = input[1], h = input[2], w = input[3];
  const int64_t k = out[1], p = out[2], q = out[3], r = options_.kernel_size, s = options_.kernel_size;
  const int64_t macs = n * k * (c / options_.groups) * r * s * p * q;
  const int64_t weights = k * (c / options_.groups) * r * s + (options_.bias ? k : 0);
  const int64_t x_elems = n * c * h * w, y_elems = n * k * p * q, bias_flops = options_.bias ? y_elems : 0;
  const int64_t b = element_size(dtype);
  switch (phase) {
    case Phase::kForward:
      return {.flops = 2 * macs + bias_flops, .bytes = (x_elems + weights + y_elems) * b};
    case Phase::kBackward: {
      const bool dx = needs_input_grad();
      return {.flops = (dx ? 4 : 2) * macs + bias_flops,
              .bytes = (y_elems + x_elems + 2 * weights + (dx ? x_elems : 0)) * b};
    }
  }
  return {};
}

// Linear. Forward: 2·rows·I·O (+ rows·O for the bias); x, w, y (+ bias). Backward: dw (2·rows·I·O, + rows·O
// for db), dx (2·rows·I·O) when computed; dy, x, w, dw (+ dx).
LayerCost Linear::cost(const Shape& input, DType dtype, Phase phase) const {
  const int64_t in = options_.in_features, out = options_.out_features;
  const int64_t rows = input.product() / in;
  const int64_t macs = rows * in * out, weights = in * out + (options_.bias ? out : 0);
  const int64_t bias_flops = options_.bias ? rows * out : 0, b = element_size(dtype);
  switch (phase) {
    case Phase::kForward:
      return {.flops = 2 * macs + bias_flops, .bytes = (rows * in + weights + rows * out) * b};
    case Phase::kBackward: {
      const bool dx = needs_input_grad();
      return {.flops = (dx ? 4 : 2) * macs + bias_flops,
              .bytes = (rows * out + rows * in + 2 * weights + (dx ? rows * in : 0)) * b};
    }
  }
  return {};
}

// BatchNorm2d over n = N·C·H·W elements. Forward: batch statistics in training (4 per element: sum,
// difference, square, sum) and the normalise-and-affine pass (4 per element); x, y. Backward: the two
// reductions (Σdy and Σdy·x̂, 5 per element) and dx (5 per element); x, dy, dx.
LayerCost BatchNorm2d::cost(const Shape& input, DType dtype, Phase phase) const {
  const int64_t n = input.product();
  switch (phase) {
    case Phase::kForward:
      return elementwise(n, dtype, training() ? 8 : 4, 1, 1);
    case Phase::kBackward:
      return elementwise(n, dtype, 10, 2, 1);
  }
  return {};
}

namespace {
// Windowed pooling: one operation per window tap and output (a comparison or an add), x and y forward;
// backward one per tap for average pooling (the gradient spread over the window), one per output for max
// pooling (routed to the argmax), dy and dx.
LayerCost window_pool_cost(const Shape& input, const Shape& out, const Pool2dParams& p, DType dtype,
                           Phase phase, bool average) {
  const int64_t taps = p.kernel * p.kernel, y = out.product(), x = input.product(), b = element_size(dtype);
  switch (phase) {
    case Phase::kForward:
      return {.flops = y * taps, .bytes = (x + y) * b};
    case Phase::kBackward:
      return {.flops = average ? y * taps : y, .bytes = (x + y) * b};
  }
  return {};
}

// Global pooling (N, C, H, W) -> (N, C): one operation per input element either way; x and y (dy and dx).
LayerCost global_pool_cost(const Shape& input, DType dtype) {
  const int64_t x = input.product(), y = input[0] * input[1];
  return {.flops = x, .bytes = (x + y) * element_size(dtype)};
}
}  // namespace

LayerCost MaxPool2d::cost(const Shape& input, DType dtype, Phase phase) const {
  return window_pool_cost(input, output_shape(input), params_, dtype, phase, false);
}

LayerCost AvgPool2d::cost(const Shape& input, DType dtype, Phase phase) const {
  return window_pool_cost(input, output_shape(input), params_, dtype, phase, true);
}

LayerCost GlobalAvgPool2d::cost(const Shape& input, DType dtype, Phase phase) const {
  (void)phase;
  return global_pool_cost(input, dtype);
}

LayerCost GlobalMaxPool2d::cost(const Shape& input, DType dtype, Phase phase) const {
  (void)phase;
  return global_pool_cost(input, dtype);
}

// ReLU: one operation per element; x, y forward; dy, y, dx backward.
LayerCost ReLU::cost(const Shape& input, DType dtype, Phase phase) const {
  switch (phase) {
    case Phase::kForward:
      return elementwise(input.product(), dtype, 1, 1, 1);
    case Phase::kBackward:
      return elementwise(input.product(), dtype, 1, 2, 1);
  }
  return {};
}

// GELU, x·Φ(x) with erf counted as one operation: 5 per element forward (x, y), 8 backward (Φ(x) + x·φ(x),
// times dy; dy, x, dx).
LayerCost GELU::cost(const Shape& input, DType dtype, Phase phase) const {
  switch (phase) {
    case Phase::kForward:
      return elementwise(input.product(), dtype, 5, 1, 1);
    case Phase::kBackward:
      return elementwise(input.product(), dtype, 8, 2, 1);
  }
  return {};
}

}  // namespace sprint::nn
