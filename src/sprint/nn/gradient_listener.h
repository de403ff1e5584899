// gradient_listener.h: GradientListener, told each time a module's backward has returned, and so has written
// the gradients of the parameters that module owns (Module::own_parameters()). A parameter owned by several
// modules (weight sharing) is final for the step once every owner has been announced: the listener counts.
// Containers announce through backward_child (nn/layer_observer.h); a module run outside a container is never
// announced, so listeners also finish whatever is left after the whole backward. Data-parallel training uses
// this to reduce gradient buckets while backward still runs (train/gradient_buckets.h).
#pragma once

namespace sprint::nn {

struct RunContext;
class Module;

class GradientListener {
 public:
  virtual ~GradientListener() = default;
  /// `module`'s backward has returned (its work queued on ctx.stream): its own parameters' gradients are
  /// written.
  virtual void gradients_written(const RunContext& ctx, const Module& module) = 0;
};

}  // namespace sprint::nn
