// dropout.h: Dropout layer. Training: inverted dropout with a Philox mask drawn from ctx.rng (reserve(numel)), so
// the mask is reproducible from (seed, offset) and identical on every backend; eval: identity. Any shape, NCHW
// or NHWC kept. With RunContext::philox_state the kernels read the seed and a base offset from the device.
#pragma once

#include "sprint/backend/api/dropout.h"
#include "sprint/nn/layer_util.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

class Dropout final : public Module {
 public:
  /// p: probability of dropping an element, in [0, 1).
  explicit Dropout(double p = 0.5);

  std::string type_name() const override { return "Dropout"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override { return input; }

  double p() const { return p_; }
  /// The mask of the last training forward of `key` (seed, offset and the device state if any), e.g. to replay it.
  DropoutMask last_mask(BufferKey key = BufferKey::micro_batch(0)) { return saved_.saved(key, "Dropout").mask; }

 private:
  struct Saved {
    DropoutMask mask;
    bool active = false;  // false: the forward was the identity
  };
  double p_;
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
