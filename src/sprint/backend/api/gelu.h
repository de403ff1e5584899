// gelu.h (backend interface): GELU, y = x·Φ(x) = 0.5·x·(1 + erf(x / √2)) (PyTorch's nn.GELU(), the exact form).
// Unlike ReLU its gradient needs the input: dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density. Any shape;
// the tensors of one call are contiguous (element-wise: callers pass flat views of any dense layout).
#pragma once

#include <cmath>

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

struct GeluForwardArgs {
  const Tensor& x;
  const Tensor& y;  ///< may alias x
};
struct GeluBackwardArgs {
  const Tensor& dy;
  const Tensor& x;   ///< forward input
  const Tensor& dx;  ///< may alias dy when mode == kOverwrite
  GradMode mode = GradMode::kOverwrite;
};

/// GELU and its derivative in double, for the reference loops.
inline double gelu_value(double x) { return 0.5 * x * (1.0 + std::erf(x * M_SQRT1_2)); }
inline double gelu_derivative(double x) {
  constexpr double kInvSqrt2Pi = 0.398942280401432677939946059934;  // 1 / sqrt(2 pi)
  return 0.5 * (1.0 + std::erf(x * M_SQRT1_2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
}

namespace cpu {
/// Fast path: oneDNN's eltwise_gelu_erf (f32, overwrite); reference loops otherwise.
void gelu_forward(const Stream& stream, const GeluForwardArgs& args);
void gelu_backward(const Stream& stream, const GeluBackwardArgs& args);
}  // namespace cpu

namespace cuda {
void gelu_forward(const Stream& stream, const GeluForwardArgs& args);
void gelu_backward(const Stream& stream, const GeluBackwardArgs& args);
}  // namespace cuda

}  // namespace sprint
