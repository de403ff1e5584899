// elementwise.h (ops): fill, copy/cast (also across devices), ReLU, GELU, axpby, and tensor creation helpers.
#pragma once

#include "sprint/backend/api/elementwise.h"
#include "sprint/backend/api/gelu.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// Sets every element of `out` (contiguous) to `value`.
void fill(const Stream& stream, const Tensor& out, double value);
/// dst = src converted to dst's dtype. Same shape. Within a device any strides and dtypes; across devices (host
/// <-> GPU, GPU <-> GPU, cpu <-> a logical host device cpu:N) both dense in one memory format with the same dtype. A copy that
/// involves a GPU runs on `stream` when it is a stream of that GPU (either GPU of a peer copy), else on the GPU's
/// compute stream ordered after `stream`'s work so far (and `stream`'s later work after it); a host-to-host copy
/// runs at once.
void copy(const Stream& stream, const Tensor& src, const Tensor& dst);
/// y = max(x, 0); y may alias x.
void relu_forward(const Stream& stream, const Tensor& x, const Tensor& y);
void relu_backward(const Stream& stream, const ReluBackwardArgs& args);
/// y = GELU(x) = x·Φ(x); y may alias x.
void gelu_forward(const Stream& stream, const Tensor& x, const Tensor& y);
void gelu_backward(const Stream& stream, const GeluBackwardArgs& args);
/// out = alpha·a + beta·b; out may alias a or b. beta == 0 reads a only (out = alpha·a, also for inf/NaN in b).
void axpby(const Stream& stream, const AxpbyArgs& args);

/// New tensor on the stream's device filled with `value`.
Tensor full(const Stream& stream, const Shape& shape, DType dtype, double value,
            MemoryFormat format = MemoryFormat::kContiguous);
inline Tensor zeros(const Stream& stream, const Shape& shape, DType dtype = DType::kF32) {
  return full(stream, shape, dtype, 0.0);
}
/// Copy of `src` on the stream's device (returns `src` itself when it is already there with that dtype).
Tensor to_stream_device(const Stream& stream, const Tensor& src);
/// A new copy of `src` on the stream's device with src's dtype and memory format (channels-last and blocked
/// layouts stay, byte for byte), from any device.
Tensor copy_to(const Stream& stream, const Tensor& src);
/// Host copy of any tensor (synchronises `stream` when the source is on a GPU).
Tensor to_host(const Stream& stream, const Tensor& src);
/// New tensor with `dtype` holding src's values converted (same device as the stream).
Tensor cast_to(const Stream& stream, const Tensor& src, DType dtype, MemoryFormat format = MemoryFormat::kContiguous);

}  // namespace sprint::ops
