// common.h: vocabulary shared by every op family's backend interface.
#pragma once

#include <cstdint>
#include <string_view>

namespace sprint {

/// How an op writes a gradient: kOverwrite assigns it, kAccumulate adds to what is there (gradient
/// accumulation, shared weights, residual branches).
enum class GradMode : uint8_t { kOverwrite, kAccumulate };

/// Activation fused into an op's epilogue. Every site that applies one consumes it with a `switch` (the helpers
/// below, or its own), so that a new activation is a -Wswitch warning at each of them, never a silent identity.
enum class Activation : uint8_t { kNone, kReLU };

std::string_view activation_name(Activation activation);

/// act(pre) in double, for the reference loops.
inline double activation_forward(Activation activation, double pre) {
  switch (activation) {
    case Activation::kNone: return pre;
    case Activation::kReLU: return pre > 0.0 ? pre : 0.0;
  }
  return pre;
}

/// True when the activation's gradient needs the layer's output y (and a scratch for the pre-activation
/// gradient): every activation but kNone.
inline bool activation_needs_output(Activation activation) {
  switch (activation) {
    case Activation::kNone: return false;
    case Activation::kReLU: return true;
  }
  return true;
}

/// The pre-activation gradient from dy and the output y = act(pre): ReLU passes dy where y > 0.
inline double activation_backward_from_output(Activation activation, double dy, double y) {
  switch (activation) {
    case Activation::kNone: return dy;
    case Activation::kReLU: return y > 0.0 ? dy : 0.0;
  }
  return dy;
}

}  // namespace sprint
