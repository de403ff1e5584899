// linear.h (backend interface): fully connected layer y = act(x · wᵀ + b) and its backward.
// Shapes: x (N, I), w (O, I), b (O) or undefined, y (N, O). Shared by cpu:: and cuda:: implementations.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

struct LinearForwardArgs {
  const Tensor& x;  ///< (N, I)
  const Tensor& w;  ///< (O, I)
  const Tensor& b;  ///< (O) or undefined
  const Tensor& y;  ///< (N, O), overwritten
  Activation activation = Activation::kNone;
};

struct LinearBackwardArgs {
  const Tensor& dy;       ///< (N, O): gradient w.r.t. the activation's output y
  const Tensor& x;        ///< (N, I): forward input
  const Tensor& w;        ///< (O, I)
  const Tensor& y;        ///< (N, O): forward output (used when activation != kNone)
  const Tensor& scratch;  ///< (N, O): workspace for the pre-activation gradient (activation != kNone)
  const Tensor& dx;       ///< (N, I) or undefined (not needed)
  const Tensor& dw;       ///< (O, I) or undefined (frozen weight); x's dtype, or f32 for f16/bf16 x (mixed precision)
  const Tensor& db;       ///< (O) or undefined; dtype as dw
  Activation activation = Activation::kNone;
  GradMode dx_mode = GradMode::kOverwrite;
  GradMode param_mode = GradMode::kOverwrite;  ///< for dw and db
};

namespace cpu {
void linear_forward(const Stream& stream, const LinearForwardArgs& args);
void linear_backward(const Stream& stream, const LinearBackwardArgs& args);
namespace ref {
void linear_forward(const LinearForwardArgs& args);
void linear_backward(const LinearBackwardArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void linear_forward(const Stream& stream, const LinearForwardArgs& args);
void linear_backward(const Stream& stream, const LinearBackwardArgs& args);
}  // namespace cuda

}  // namespace sprint
