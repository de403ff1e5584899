// layer_observer.h: LayerObserver, what a container (Sequential, Residual) tells about each child it runs,
// and forward_child / backward_child, the calls containers make instead of child.forward / child.backward
// (backward_child also tells RunContext::gradient_listener). A profiler (profile/profiler.h) implements the
// observer; nn/ never depends on it. With RunContext::observer and gradient_listener null the helpers are a plain
// virtual call: no timing, no string work.
#pragma once

#include <string_view>

#include "sprint/nn/gradient_listener.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

/// Told before and after a child module runs. Calls nest: between a child's begin and end come its own
/// children's (with their local names), so an observer that keeps a stack of names knows the full path
/// ("layer1.0.conv1"). A call that throws leaves its begin without an end.
class LayerObserver {
 public:
  virtual ~LayerObserver() = default;
  /// Before `module`, named `name` in its parent, runs `phase`; `input` is x (forward) or dy (backward).
  virtual void layer_begin(const RunContext& ctx, std::string_view name, const Module& module, Phase phase,
                           const Tensor& input) = 0;
  /// After the call begun by the matching layer_begin returned (its work queued on ctx.stream).
  virtual void layer_end(const RunContext& ctx, std::string_view name, const Module& module, Phase phase) = 0;
};

/// child.forward(ctx, x), reported to ctx.observer when there is one.
inline Tensor forward_child(RunContext& ctx, std::string_view name, Module& child, const Tensor& x) {
  if (ctx.observer == nullptr) return child.forward(ctx, x);
  ctx.observer->layer_begin(ctx, name, child, Phase::kForward, x);
  Tensor y = child.forward(ctx, x);
  ctx.observer->layer_end(ctx, name, child, Phase::kForward);
  return y;
}

/// child.backward(ctx, dy), reported to ctx.observer when there is one; ctx.gradient_listener, when there is one,
/// is then told that child's parameter gradients are written.
inline Tensor backward_child(RunContext& ctx, std::string_view name, Module& child, const Tensor& dy) {
  Tensor dx;
  if (ctx.observer == nullptr) {
    dx = child.backward(ctx, dy);
  } else {
    ctx.observer->layer_begin(ctx, name, child, Phase::kBackward, dy);
    dx = child.backward(ctx, dy);
    ctx.observer->layer_end(ctx, name, child, Phase::kBackward);
  }
  if (ctx.gradient_listener != nullptr) ctx.gradient_listener->gradients_written(ctx, child);
  return dx;
}

}  // namespace sprint::nn
