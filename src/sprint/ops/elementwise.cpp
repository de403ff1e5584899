// elementwise.cpp (ops): validation + dispatch for fill, copy/cast, ReLU, GELU and axpby; device transfers.
#include "sprint/ops/elementwise.h"

#include <cstring>

#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::ops {
namespace {
using FillFn = void (*)(const Stream&, const FillArgs&);
using CastFn = void (*)(const Stream&, const CastArgs&);
using ReluForwardFn = void (*)(const Stream&, const ReluForwardArgs&);
using ReluBackwardFn = void (*)(const Stream&, const ReluBackwardArgs&);
using GeluForwardFn = void (*)(const Stream&, const GeluForwardArgs&);
using GeluBackwardFn = void (*)(const Stream&, const GeluBackwardArgs&);
using AxpbyFn = void (*)(const Stream&, const AxpbyArgs&);
const BackendTable<FillFn> kFill{"fill", &cpu::fill, SPRINT_CUDA_IMPL(cuda::fill)};
const BackendTable<CastFn> kCast{"copy", &cpu::cast, SPRINT_CUDA_IMPL(cuda::cast)};
const BackendTable<ReluForwardFn> kReluForward{"relu_forward", &cpu::relu_forward,
                                               SPRINT_CUDA_IMPL(cuda::relu_forward)};
const BackendTable<ReluBackwardFn> kReluBackward{"relu_backward", &cpu::relu_backward,
                                                 SPRINT_CUDA_IMPL(cuda::relu_backward)};
const BackendTable<GeluForwardFn> kGeluForward{"gelu_forward", &cpu::gelu_forward,
                                               SPRINT_CUDA_IMPL(cuda::gelu_forward)};
const BackendTable<GeluBackwardFn> kGeluBackward{"gelu_backward", &cpu::gelu_backward,
                                                 SPRINT_CUDA_IMPL(cuda::gelu_backward)};
const BackendTable<AxpbyFn> kAxpby{"axpby", &cpu::axpby, SPRINT_CUDA_IMPL(cuda::axpby)};

CopyKind copy_kind(Device src, Device dst) {
  if (src.is_cpu() && dst.is_cpu()) return CopyKind::kHostToHost;
  if (src.is_cpu()) return CopyKind::kHostToDevice;
  if (dst.is_cpu()) return CopyKind::kDeviceToHost;
  return src == dst ? CopyKind::kDeviceToDevice : CopyKind::kPeer;
}

// Dense memory of one layout (contiguous, channels-last or blocked) is the same bytes on any device.
bool is_dense(const Tensor& t) {
  return t.is_contiguous() || t.is_channels_last() || t.is_blocked();
}
}  // namespace

void fill(const Stream& stream, const Tensor& out, double value) {
  check_on_stream_device(stream, {&out}, "fill");
  check_contiguous({&out}, "fill");
  kFill.select(stream.device())(stream, {out, value});
}

void copy(const Stream& stream, const Tensor& src, const Tensor& dst) {
  SPRINT_CHECK(src.defined() && dst.defined(), "copy: undefined tensor");
  SPRINT_CHECK(src.shape() == dst.shape(), "copy: shapes differ, {} vs {}", src.description(), dst.description());
  if (src.device() == dst.device()) {
    check_on_stream_device(stream, {&src, &dst}, "copy");
    kCast.select(stream.device())(stream, {src, dst});
    return;
  }
  SPRINT_CHECK(src.dtype() == dst.dtype(), "copy across devices needs equal dtypes, got {} -> {}", src.description(),
               dst.description());
  SPRINT_CHECK(is_dense(src) && is_dense(dst) && src.memory_format() == dst.memory_format(),
               "copy across devices needs dense tensors of one memory format, got {} -> {}", src.description(),
               dst.description());
  const CopyKind kind = copy_kind(src.device(), dst.device());
  if (kind == CopyKind::kHostToHost) {  // cpu and a logical host device: host memory both
    if (!stream.device().is_cpu()) stream.synchronize();
    std::memmove(dst.data(), src.data(), src.n_bytes());
    return;
  }
  // A GPU's stream runs the copy: `stream` where it belongs to a GPU of the copy, else a stream of the GPU
  // (ordered after `stream`'s work so far, and `stream`'s later work after the copy).
  const bool on_stream = stream.device().is_cuda() && (stream.device() == src.device() || stream.device() == dst.device());
  if (on_stream) {
    stream.context().copy_bytes(stream, dst.data(), src.data(), src.n_bytes(), kind);
    return;
  }
  const Stream gpu = device_context(src.device().is_cuda() ? src.device() : dst.device()).compute_stream();
  gpu.wait_for(stream);
  gpu.context().copy_bytes(gpu, dst.data(), src.data(), src.n_bytes(), kind);
  for (const Tensor* t : {&src, &dst})
    if (t->device() == gpu.device()) record_stream(*t, gpu);
  stream.wait_for(gpu);
}

void relu_forward(const Stream& stream, const Tensor& x, const Tensor& y) {
  SPRINT_CHECK(x.shape() == y.shape(), "relu_forward: shapes differ, {} vs {}", x.description(), y.description());
  check_floating(x, "relu_forward");
  check_same_dtype(x.dtype(), {&y}, "relu_forward");
  check_on_stream_device(stream, {&x, &y}, "relu_forward");
  check_contiguous({&x, &y}, "relu_forward");
  kReluForward.select(stream.device())(stream, {x, y});
}

void relu_backward(const Stream& stream, const ReluBackwardArgs& a) {
  SPRINT_CHECK(a.dy.shape() == a.y.shape() && a.dx.shape() == a.y.shape(), "relu_backward: shapes differ");
  check_floating(a.dy, "relu_backward");
  check_same_dtype(a.dy.dtype(), {&a.y, &a.dx}, "relu_backward");
  check_on_stream_device(stream, {&a.dy, &a.y, &a.dx}, "relu_backward");
  check_contiguous({&a.dy, &a.y, &a.dx}, "relu_backward");
  kReluBackward.select(stream.device())(stream, a);
}

void gelu_forward(const Stream& stream, const Tensor& x, const Tensor& y) {
  SPRINT_CHECK(x.shape() == y.shape(), "gelu_forward: shapes differ, {} vs {}", x.description(), y.description());
  check_floating(x, "gelu_forward");
  check_same_dtype(x.dtype(), {&y}, "gelu_forward");
  check_on_stream_device(stream, {&x, &y}, "gelu_forward");
  check_contiguous({&x, &y}, "gelu_forward");
  kGeluForward.select(stream.device())(stream, {x, y});
}

void gelu_backward(const Stream& stream, const GeluBackwardArgs& a) {
  SPRINT_CHECK(a.dy.shape() == a.x.shape() && a.dx.shape() == a.x.shape(), "gelu_backward: shapes differ");
  check_floating(a.dy, "gelu_backward");
  check_same_dtype(a.dy.dtype(), {&a.x, &a.dx}, "gelu_backward");
  check_on_stream_device(stream, {&a.dy, &a.x, &a.dx}, "gelu_backward");
  check_contiguous({&a.dy, &a.x, &a.dx}, "gelu_backward");
  kGeluBackward.select(stream.device())(stream, a);
}

void axpby(const Stream& stream, const AxpbyArgs& a) {
  SPRINT_CHECK(a.a.shape() == a.out.shape() && a.b.shape() == a.out.shape(), "axpby: shapes differ");
  check_floating(a.out, "axpby");
  check_same_dtype(a.out.dtype(), {&a.a, &a.b}, "axpby");
  check_on_stream_device(stream, {&a.a, &a.b, &a.out}, "axpby");
  check_contiguous({&a.a, &a.b, &a.out}, "axpby");
  kAxpby.select(stream.device())(stream, a);
}

Tensor full(const Stream& stream, const Shape& shape, DType dtype, double value, MemoryFormat format) {
  // A blocked tensor's padding channels must stay 0: fill the logical elements through a copy.
  if (channel_block(format) != 0 || weight_block(format) != 0)
    return cast_to(stream, full(stream, shape, dtype, value), dtype, format);
  Tensor t = Tensor::empty(shape, dtype, stream.allocator(), format);
  // fill() wants a contiguous tensor; a channels-last tensor is contiguous in memory, so fill its flat view.
  fill(stream, Tensor::wrap(t.data(), {t.numel()}, dtype, t.device()), value);
  return t;
}

namespace {
// `src` (on another device than `stream`'s) in `format` on its own device, converted there after `stream`'s work
// so far and before `stream`'s later work, which copies it across.
Tensor formatted_on_its_device(const Stream& stream, const Tensor& src, MemoryFormat format) {
  const Stream there = device_context(src.device()).compute_stream();
  there.wait_for(stream);
  Tensor formatted = cast_to(there, src, src.dtype(), format);
  stream.wait_for(there);
  return formatted;
}
}  // namespace

Tensor to_stream_device(const Stream& stream, const Tensor& src) {
  if (src.device() == stream.device()) return src;
  Tensor dst = Tensor::empty(src.shape(), src.dtype(), stream.allocator());
  copy(stream, src.is_contiguous() ? src : formatted_on_its_device(stream, src, MemoryFormat::kContiguous), dst);
  return dst;
}

Tensor copy_to(const Stream& stream, const Tensor& src) {
  const MemoryFormat format = src.memory_format();
  Tensor dst = Tensor::empty(src.shape(), src.dtype(), stream.allocator(), format);
  // A strided view on another device is made dense there first.
  copy(stream, is_dense(src) || src.device() == stream.device() ? src : formatted_on_its_device(stream, src, format),
       dst);
  return dst;
}

Tensor to_host(const Stream& stream, const Tensor& src) {
  if (src.device().is_cpu()) return src;
  const Tensor contiguous = src.is_contiguous() ? src : cast_to(stream, src, src.dtype());
  Tensor dst = Tensor::empty(src.shape(), src.dtype(), stream.context().host_allocator());
  copy(stream, contiguous, dst);
  stream.synchronize();
  return dst;
}

Tensor cast_to(const Stream& stream, const Tensor& src, DType dtype, MemoryFormat format) {
  Tensor dst = Tensor::empty(src.shape(), dtype, stream.allocator(), format);
  copy(stream, src, dst);
  return dst;
}

}  // namespace sprint::ops
