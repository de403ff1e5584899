// parameter.h: Parameter, a trainable tensor with its gradient and the optimizer hints attached to it.
// Gradient bookkeeping replaces zero-filling: after zero_grad() the next backward *overwrites* the gradient
// (GEMM beta = 0), later ones in the same step *accumulate* (gradient accumulation, shared weights).
// Mixed precision: after use_compute_dtype(f16|bf16) the layers read value() in that dtype and write grad() in f32
// (weight gradients accumulate in f32), while an f32 master copy (master_value()) is what the optimizer updates
// (writing value() from it in the same pass), what checkpoints save and load, and what weight averages follow.
#pragma once

#include <memory>
#include <string>

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

class Parameter {
 public:
  Parameter(std::string name, Tensor value, bool trainable = true);

  const std::string& name() const { return name_; }
  /// What the layers compute with (the half-precision copy under mixed precision).
  const Tensor& value() const { return value_; }
  const Tensor& grad() const { return grad_; }
  /// The f32 master under mixed precision, else value(): what optimizers update and checkpoints hold.
  const Tensor& master_value() const { return master_.defined() ? master_ : value_; }
  bool has_master() const { return master_.defined(); }
  /// Mixed precision: keeps the current f32 value as the master and makes value() a `dtype` copy (same device and
  /// layout); grad() stays f32. A no-op for dtype == value's dtype; InvalidArgument unless the value is f32 and dtype is
  /// f16 or bf16, or when a master exists already.
  void use_compute_dtype(const Stream& stream, DType dtype);
  /// value() = the master rounded to the compute dtype (after something other than the optimizer changed it).
  void refresh_compute_copy(const Stream& stream);
  bool trainable() const { return trainable_; }
  void set_trainable(bool on) { trainable_ = on; }

  /// Replaces the value (e.g. after moving to another device); reallocates the gradient like it. Not with a master
  /// (move parameters before choosing a compute dtype).
  void set_value(Tensor value);
  /// Moves the value, the f32 master (mixed precision) and the gradient (its values, written or not) to the
  /// stream's device, each in its dtype and layout; a no-op when already there.
  void move_to(const Stream& stream);
  /// Copies `values` (same shape, any dtype, device and layout) into the existing storage, converting to the
  /// value's dtype and layout: addresses stay (a captured CUDA graph keeps reading them). Loading checkpoints.
  /// With a master: into the master, and the compute copy is refreshed from it.
  void load_value(const Stream& stream, const Tensor& values);
  /// Stores the value (and a gradient written since zero_grad(), which is kept) in `format` on stream's device,
  /// e.g. a convolution's weights in the layout its kernels read (the master too). A no-op when already so stored.
  void convert_format(const Stream& stream, MemoryFormat format);

  /// Called by a layer right before it writes this parameter's gradient; returns how to write it.
  GradMode take_grad_mode();
  /// True if a backward wrote the gradient since the last zero_grad().
  bool has_grad() const { return has_grad_; }
  /// The next backward overwrites the gradient; no memory is touched.
  void zero_grad() { has_grad_ = false; }

  /// Optimizer hints: learning-rate multiplier and whether weight decay applies.
  double lr_scale = 1.0;
  bool weight_decay = true;

 private:
  std::string name_;
  Tensor value_;
  Tensor grad_;
  Tensor master_;  // f32, mixed precision only
  bool trainable_ = true;
  bool has_grad_ = false;
};

using ParameterPtr = std::shared_ptr<Parameter>;

}  // namespace sprint::nn
