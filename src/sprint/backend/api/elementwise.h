// elementwise.h (backend interface): fill, copy/cast, ReLU, add, scale. Any shape; tensors of one call share
// shape and are contiguous unless noted.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

struct FillArgs {
  const Tensor& out;
  double value;
};
/// dst = convert(src); same shape, any dtypes, any strides on either side.
struct CastArgs {
  const Tensor& src;
  const Tensor& dst;
};
struct ReluForwardArgs {
  const Tensor& x;
  const Tensor& y;  ///< may alias x
};
struct ReluBackwardArgs {
  const Tensor& dy;
  const Tensor& y;   ///< forward output (y > 0 <=> x > 0)
  const Tensor& dx;  ///< may alias dy when mode == kOverwrite
  GradMode mode = GradMode::kOverwrite;
};
/// out = alpha * a + beta * b   (out may alias a or b)
struct AxpbyArgs {
  const Tensor& a;
  const Tensor& b;
  const Tensor& out;
  double alpha = 1.0;
  double beta = 1.0;
};

namespace cpu {
void fill(const Stream& stream, const FillArgs& args);
void cast(const Stream& stream, const CastArgs& args);
void relu_forward(const Stream& stream, const ReluForwardArgs& args);
void relu_backward(const Stream& stream, const ReluBackwardArgs& args);
void axpby(const Stream& stream, const AxpbyArgs& args);
}  // namespace cpu

namespace cuda {
void fill(const Stream& stream, const FillArgs& args);
void cast(const Stream& stream, const CastArgs& args);
void relu_forward(const Stream& stream, const ReluForwardArgs& args);
void relu_backward(const Stream& stream, const ReluBackwardArgs& args);
void axpby(const Stream& stream, const AxpbyArgs& args);
}  // namespace cuda

}  // namespace sprint
