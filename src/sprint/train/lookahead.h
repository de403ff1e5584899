// lookahead.h: Lookahead, an exponential moving average of a model's state that the weights are reset to, as
// airbench's LookaheadState: every `every` optimizer steps, for every floating parameter and buffer (BatchNorm
// running statistics included) ema = decay·ema + (1 − decay)·value, then value = ema. The decay of step t of T
// is base·(t / T)^power (airbench94: 0.95^5 and 3), and after the last step the weights are set to the average.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sprint/core/tensor.h"
#include "sprint/nn/module.h"
#include "sprint/runtime/stream.h"

namespace sprint::train {

struct LookaheadOptions {
  int64_t every = 0;  ///< 0: off
  double base = std::pow(0.95, 5);
  double power = 3.0;
  /// Decay at step t (1-based count of optimizer steps) of `total`.
  double decay(int64_t t, int64_t total) const {
    return base * std::pow(static_cast<double>(t) / static_cast<double>(total), power);
  }
};

class Lookahead {
 public:
  /// The average starts from the model's current state (copies on the model's device, in each tensor's layout).
  Lookahead(const Stream& stream, nn::Module& net);

  /// ema = decay·ema + (1 − decay)·value; value = ema, for every tracked tensor.
  void update(const Stream& stream, double decay);

  /// The averages, named as the state they average ("fc.weight", "bn1.running_mean"), as stored on the device.
  std::vector<nn::NamedBuffer> named_averages() const;
  /// Copies averages saved from named_averages() back in (checkpoint resume): `find(name)` gives a tensor of any
  /// device, dtype or layout. FormatError naming the tensor when one is missing or has another shape.
  void load_averages(const Stream& stream, const std::function<Tensor(const std::string&)>& find);

 private:
  struct Entry {
    Tensor value, ema;
  };
  static Tensor snapshot(const Stream& stream, const Tensor& value);
  nn::Module& net_;
  std::vector<Entry> entries_;
  /// The model's current state tensors (parameters, then floating buffers), with their dotted paths.
  std::vector<nn::NamedBuffer> state() const;
};

}  // namespace sprint::train
