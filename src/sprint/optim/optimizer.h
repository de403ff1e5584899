// optimizer.h: the Optimizer interface. An optimizer owns per-parameter state (momentum, moments) on the
// parameters' device and updates parameters in place with fused multi-tensor ops. Parameter groups carry their
// own settings; each Parameter's lr_scale and weight_decay hints refine them (e.g. BN biases at 64x lr, no decay).
// Steady-state steps allocate nothing: state is created on the first step, index lists reuse their capacity.
// The values that change from step to step (lr, momentum, gradient scale, step count) reach the update kernels
// through a small tensor on the parameters' device (StepValue), written before each step's updates.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sprint/nn/module.h"
#include "sprint/nn/parameter.h"
#include "sprint/ops/optimizer.h"  // UpdateMaskMode

namespace sprint::optim {

/// A set of parameters with optional overrides of the optimizer's defaults.
struct ParamGroup {
  std::vector<nn::ParameterPtr> params;
  double lr_scale = 1.0;               ///< group lr = optimizer lr · lr_scale · parameter lr_scale
  std::optional<double> weight_decay;  ///< overrides the optimizer's default when set
  std::string name;
};

/// One group holding every parameter of `module`.
std::vector<ParamGroup> single_group(nn::Module& module);
/// Two groups, as airbench: the BatchNorm biases ("norm biases") at lr × bias_lr_scale with weight decay
/// weight_decay / bias_lr_scale (so lr · decay, the decay per step, stays that of the others), and every other
/// parameter at the optimizer's lr and weight_decay.
std::vector<ParamGroup> batch_norm_bias_groups(nn::Module& module, double bias_lr_scale, double weight_decay);

/// Dotted path of every parameter of a model ("layer1.0.conv1.weight"), from Module::named_parameters().
using ParameterPaths = std::unordered_map<const nn::Parameter*, std::string>;
ParameterPaths parameter_paths(nn::Module& model);

/// One state tensor of one parameter: kind "momentum_buffer", "exp_avg" or "exp_avg_sq" (PyTorch's names);
/// *tensor stays undefined until the optimizer first needs it (a parameter that never had a gradient has none).
struct StateSlot {
  const nn::Parameter* param;
  std::string kind;
  Tensor* tensor;
};

/// One optimizer step of a planned schedule (Optimizer::plan_steps).
struct PlannedStep {
  double lr = 0.0;
  std::optional<double> momentum;  ///< SGD momentum / Adam beta1; unset: the optimizer's own
  double grad_scale = 1.0;
};

/// The optimizer's counters for checkpoints.
struct OptimizerProgress {
  int64_t step_count = 0;
  double lr = 0.0;
};

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, double lr, double default_weight_decay);
  virtual ~Optimizer() = default;

  virtual std::string describe() const = 0;
  /// Updates every trainable parameter that has a gradient. grad_scale multiplies the gradients first
  /// (1 / accumulation steps, 1 / loss scale).
  void step(const Stream& stream, double grad_scale = 1.0);
  /// Marks all gradients stale: the next backward overwrites them (no memory traffic).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  /// Overrides the momentum (SGD) or beta1 (Adam) of the following steps, as a momentum-cycling schedule does;
  /// nullopt returns to the optimizer's own.
  void set_momentum(std::optional<double> momentum);
  int64_t step_count() const { return step_count_; }
  /// The momentum (SGD) or beta1 (Adam) of the next step: the override set_momentum gave, else the optimizer's own.
  double momentum() const { return momentum_.value_or(step_momentum()); }
  /// The learning rate `param` is updated with at the current lr: lr · its group's and its own lr_scale.
  /// InvalidArgument when the optimizer does not update `param`.
  double effective_lr(const nn::Parameter& param) const;

  /// Puts the values of steps 1..plan.size() on the device: from then on each step() selects its row there (one
  /// queued kernel, ops::step_values_select) instead of taking lr, momentum and grad_scale from the host, so a CUDA
  /// graph captured around step() replays the whole schedule. step() throws InvalidArgument past the plan's end
  /// or when its grad_scale differs from the planned one.
  void plan_steps(const Stream& stream, const std::vector<PlannedStep>& plan);
  bool has_plan() const { return plan_.defined(); }
  /// Counts a step that a CUDA graph replayed (the captured step() ran on the device, not on the host).
  void count_replayed_step();

  /// Every state slot of every parameter, made or not.
  virtual std::vector<StateSlot> state_slots() = 0;
  /// The made state tensors named "<parameter path>.<kind>" ("fc.weight.momentum_buffer"), as they are stored
  /// (on the parameters' device, in the parameters' layout). Throws InternalError for a parameter `paths` misses.
  std::vector<nn::NamedBuffer> named_state(const ParameterPaths& paths);
  /// Loads state written by named_state: for each slot, `find("<path>.<kind>")` gives a tensor (any device,
  /// dtype or layout; undefined when absent). Present ones are copied into the slot, made first when needed (in
  /// the parameter's dtype and layout, on its device); absent ones are left unmade. FormatError on a shape that
  /// does not match the parameter's. Returns the names loaded.
  std::vector<std::string> load_state(const Stream& stream, const ParameterPaths& paths,
                                      const std::function<Tensor(const std::string&)>& find);
  OptimizerProgress progress() const { return {step_count_, lr_}; }
  void restore_progress(const OptimizerProgress& progress);
  /// "lr_scale=64 weight_decay=7.8e-06 params=8; lr_scale=1 ..." (the settings of each set of parameters updated
  /// together), for the record a checkpoint keeps.
  std::string describe_update_sets() const;

  /// Sparse training on fixed masks: of each parameter in `masks` only the entries whose mask is not 0 are trained,
  /// as `mode` says (kFreeze: the others keep value and state bit for bit); parameters not in `masks` are trained
  /// whole. A mask has its parameter's shape and may have any dtype, device and layout (it is stored as the
  /// parameter's master). Replaces earlier masks; an empty map trains everything again. InvalidArgument for a
  /// parameter this optimizer does not update or a shape that differs.
  void set_update_masks(const Stream& stream, const std::unordered_map<const nn::Parameter*, Tensor>& masks,
                        UpdateMaskMode mode);
  bool has_update_masks() const { return !masks_.empty(); }

 protected:
  /// Parameters updated together: equal effective lr scale and weight decay.
  struct UpdateSet {
    double lr_scale = 1.0;
    double weight_decay = 0.0;
    std::vector<nn::ParameterPtr> params;
  };
  /// Updates params[i] of members `b` for every i in `active` (trainable, with a gradient), reading this step's
  /// lr, momentum, gradient scale and step count from `step_values` (f64 (kStepValueCount) on stream's device).
  virtual void update_set(const Stream& stream, size_t b, const std::vector<size_t>& active,
                             const Tensor& step_values) = 0;
  /// This step's momentum (StepValue::kMomentum); optimizers without one leave it 0.
  virtual double step_momentum() const { return 0.0; }
  /// The update mask of update_sets_[b].params[i] stored as its master (re-stored when the master's layout
  /// changed), or an undefined tensor when it has none.
  const Tensor& update_mask(const Stream& stream, size_t b, size_t i);
  UpdateMaskMode mask_mode() const { return mask_mode_; }

  std::vector<UpdateSet> update_sets_;
  double lr_;
  int64_t step_count_ = 0;

 private:
  /// Writes this step's values and returns the tensor the kernels read: on the CPU the host tensor itself; on
  /// CUDA a device copy, refreshed by a stream-ordered copy from pageable memory (staged by the driver at once, so
  /// the host may overwrite it next step). While the stream is being captured the copy is not recorded: the graph
  /// reads the values the last eager step left on the device (the trainer refuses schedules with CUDA graphs).
  const Tensor& write_step_values(const Stream& stream, double grad_scale);

  /// With a plan: the step's values selected on the device (the cursor first set from the host when the step is not
  /// being captured, so eager steps and replays agree).
  const Tensor& select_planned_values(const Stream& stream);
  /// InvalidArgument unless the plan has step `step` (1-based) with this gradient scale.
  void check_planned_step(int64_t step, double grad_scale) const;

  std::vector<size_t> active_;  // reused every step
  std::vector<std::vector<Tensor>> masks_;  // [update set][member], empty without masks
  UpdateMaskMode mask_mode_ = UpdateMaskMode::kFreeze;
  std::optional<double> momentum_;
  Tensor host_step_values_, device_step_values_;
  Tensor plan_, host_plan_;             // f64 (T, kStepValueCount) on the parameters' device, and on the host
  Tensor plan_cursor_, host_cursor_;    // i64 (1): device cursor, and its host staging copy
};

}  // namespace sprint::optim
