// module.h: Module, the base of every layer and model, and RunContext, what a forward/backward call runs with.
//
// Contract (explicit forward/backward, no autograd tape):
//   y  = module.forward(ctx, x)   x (N, ...) -> y (N, ...); y lives in the module's workspace and stays valid
//                                 until the next forward of this module with the same ctx.buffers.
//   dx = module.backward(ctx, dy) dy shaped like y -> dx shaped like x, or an undefined tensor when
//                                 needs_input_grad() is false (first layer: skips a whole GEMM).
//   Parameter gradients follow Parameter::take_grad_mode(): overwrite after zero_grad(), then accumulate.
// backward(ctx, dy) must follow forward(ctx, x) of the same ctx.buffers, with x still alive. Steady-state steps
// allocate nothing: buffers are created on the first call and reused (see Workspace).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"
#include "sprint/nn/buffer_key.h"
#include "sprint/nn/buffer_pool.h"
#include "sprint/nn/parameter.h"
#include "sprint/nn/workspace.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

class LayerObserver;
class GradientListener;
class ReplicaSum;

/// The two passes of a training step, as profilers and cost models name them.
enum class Phase { kForward, kBackward };
/// "forward" / "backward"
const char* phase_name(Phase phase);

/// What one pass of a layer costs, for achieved FLOP/s and bytes/s: floating-point operations (a multiply-add is
/// two) and the minimum memory traffic (every input, output, parameter and gradient tensor read or written once).
/// Zero: the layer does not say.
struct LayerCost {
  int64_t flops = 0;
  int64_t bytes = 0;
};

struct RunContext {
  Stream stream;
  /// Random source for stochastic layers (dropout); required in training mode when such layers exist.
  Generator* rng = nullptr;
  /// Which set of saved activations and cached buffers the layers use (nn/buffer_key.h): the schedule's
  /// micro-batch (a pipeline keeps several in flight, one set each) or evaluation's own set.
  BufferKey buffers = BufferKey::micro_batch(0);
  /// Layout convolutions write their outputs in, and so the layers after them work in (ops::
  /// preferred_activation_format: channel-blocked on the CPU); unset: each layer keeps its input's layout.
  std::optional<MemoryFormat> activation_format = std::nullopt;
  /// Where layers take their outputs and input gradients during a training step (shared, recycled as soon as no
  /// layer holds them; backward then releases what forward saved); null: each layer keeps its own in its
  /// Workspace, and what forward saved stays until the next forward with the same key.
  BufferPool* pool = nullptr;
  /// Optional i64 (2) {seed, base} on the stream's device (DropoutMask::state): stochastic layers still reserve
  /// their offsets from rng, but their kernels add the base and take the seed from this tensor when they run. A
  /// CUDA graph captured with it draws new masks on each replay once the base is advanced between replays.
  Tensor philox_state = {};
  /// Told about every child module that containers run (nn/layer_observer.h); null: nothing is told, no cost.
  LayerObserver* observer = nullptr;
  /// Told after each child's backward that its parameters' gradients are written (nn/gradient_listener.h).
  GradientListener* gradient_listener = nullptr;
  /// Set in training steps of a data-parallel job with synchronised batch norm (nn/replica_sum.h): BatchNorm2d
  /// then normalises with the batch statistics of every replica's batch; null: with its own batch's.
  ReplicaSum* replica_sum = nullptr;
};

/// What `layer`'s forward saved for ctx.buffers, for its backward: moved out when the layers share ctx.pool (so
/// that what it holds is released once backward returns, as PyTorch frees a graph's saved tensors), copied
/// otherwise (backward may then run again on the same forward). Throws when forward saved nothing for the key.
template <class T>
T take_saved(const RunContext& ctx, PerBuffer<T>& saved, const char* layer) {
  T& entry = saved.saved(ctx.buffers, layer);
  if (ctx.pool == nullptr) return entry;
  T out = std::move(entry);
  saved.erase(ctx.buffers);
  return out;
}

/// A named tensor that is state but not trained (BatchNorm running statistics): saved in checkpoints.
struct NamedBuffer {
  std::string name;
  Tensor value;
};

/// A named integer that is state (BatchNorm's num_batches_tracked): kept on the host, saved as an i64 scalar.
struct NamedCounter {
  std::string name;
  int64_t* value;
};

/// How named_parameters() lists a parameter that several modules share: once, under its first path (as
/// PyTorch's named_parameters(): optimizers, counts), or under every path (as PyTorch's state_dict(): checkpoints).
enum class SharedPaths { kFirst, kEvery };

class Module {
 public:
  virtual ~Module() = default;

  /// "Linear", "Conv2d", ...
  virtual std::string type_name() const = 0;
  /// One-line description with hyperparameters: "Linear(784 -> 128, bias)".
  virtual std::string describe() const { return type_name(); }

  virtual Tensor forward(RunContext& ctx, const Tensor& x) = 0;
  virtual Tensor backward(RunContext& ctx, const Tensor& dy) = 0;
  /// Output shape for an input shape (batch dimension included); throws InvalidArgument on a mismatch.
  virtual Shape output_shape(const Shape& input) const = 0;
  /// The cost of one `phase` pass over an input of `input` shape (batch included) with activations of `dtype`
  /// (nn/layer_costs.cpp has the formulas); zero for layers that do not say.
  virtual LayerCost cost(const Shape& input, DType dtype, Phase phase) const {
    (void)input, (void)dtype, (void)phase;
    return {};
  }

  /// Direct sub-modules with their names ("0", "block1", ...); empty for leaf layers.
  virtual std::vector<std::pair<std::string, Module*>> children() { return {}; }
  /// Moves parameters and buffers (this module's and its children's) to the stream's device.
  void to_device(const Stream& stream);

  void train(bool on = true) { set_training(on); }
  void eval() { set_training(false); }
  bool training() const { return training_; }
  virtual void set_training(bool on) { training_ = on; }

  bool needs_input_grad() const { return needs_input_grad_; }
  virtual void set_needs_input_grad(bool on) { needs_input_grad_ = on; }

  /// Every parameter with its dotted path ("0.weight", "block1.conv.weight"); a parameter shared by several
  /// modules appears once, under its first path, or under each of its paths (SharedPaths::kEvery).
  std::vector<std::pair<std::string, ParameterPtr>> named_parameters(SharedPaths shared = SharedPaths::kFirst);
  std::vector<ParameterPtr> parameters();
  /// The parameters this module itself registered (shared ones included), not its children's: what its backward
  /// writes gradients for.
  const std::vector<ParameterPtr>& own_parameters() const { return own_parameters_; }
  /// Every buffer (running statistics) with its dotted path.
  std::vector<NamedBuffer> named_buffers();
  /// Every counter with its dotted path.
  std::vector<NamedCounter> named_counters();
  /// Number of trainable scalars.
  int64_t n_parameters();

 protected:
  /// Registers a parameter owned by this module under a local name ("weight").
  ParameterPtr add_parameter(ParameterPtr parameter);
  /// Replaces the registered `current` by `shared` (another module's parameter, same name): both modules then
  /// read one value and add their gradients into one gradient (weight sharing).
  void replace_parameter(const ParameterPtr& current, ParameterPtr shared);
  /// Registers a buffer; `value` is shared (the module keeps its own handle to update it).
  void add_buffer(std::string name, Tensor* value);
  /// Registers a counter the module keeps in `*value`.
  void add_counter(std::string name, int64_t* value);

  /// A buffer for an output (forward's y, or what backward reads besides it, such as max-pooling's indices):
  /// from ctx.pool when set, else this module's Workspace entry `id`.
  Tensor output_buffer(RunContext& ctx, int id, const Shape& shape, DType dtype,
                       MemoryFormat format = MemoryFormat::kContiguous);
  /// A buffer for an input gradient (backward's dx and its scratch): from ctx.pool when set, else this module's
  /// Workspace entry `id`.
  Tensor gradient_buffer(RunContext& ctx, int id, const Shape& shape, DType dtype,
                         MemoryFormat format = MemoryFormat::kContiguous);

  Workspace workspace_;

 private:
  bool training_ = true;
  bool needs_input_grad_ = true;
  std::vector<ParameterPtr> own_parameters_;
  std::vector<std::pair<std::string, Tensor*>> own_buffers_;
  std::vector<std::pair<std::string, int64_t*>> own_counters_;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace sprint::nn
