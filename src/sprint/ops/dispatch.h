// dispatch.h: the per-op backend table and the validation helpers every ops/ front door uses.
// Each op family keeps one small table per op: { name, cpu::fn, cuda::fn }; a backend that lacks an op leaves
// its entry null and the call fails with a clear Unsupported error (never a silent fallback).
#pragma once

#include <initializer_list>

#include "sprint/config.h"
#include "sprint/core/error.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

#if SPRINT_HAS_CUDA
#define SPRINT_CUDA_IMPL(fn) (&fn)
#else
#define SPRINT_CUDA_IMPL(fn) nullptr
#endif

namespace sprint {

/// Use for optional tensor arguments ("not given").
inline const Tensor kNoTensor{};

namespace ops {

template <class Fn>
struct BackendTable {
  const char* op_name;
  Fn cpu;
  Fn cuda;

  Fn select(Device device) const {
    Fn fn = device.is_cpu() ? cpu : cuda;
    if (!fn) {
      SPRINT_THROW(Unsupported, "{} is not available on {}{}", op_name, device_name(device),
                   device.is_cuda() && !SPRINT_HAS_CUDA ? ": sprint was built without CUDA" : "");
    }
    return fn;
  }
};

/// Every defined tensor in `tensors` lives on the stream's device.
void check_on_stream_device(const Stream& stream, std::initializer_list<const Tensor*> tensors, const char* op);
/// Every defined tensor has dtype `dtype`.
void check_same_dtype(DType dtype, std::initializer_list<const Tensor*> tensors, const char* op);
/// Parameter gradients (dW, db) of an op computing in `compute`: every defined one is of that dtype, or f32
/// beside f16/bf16 operands (mixed precision accumulates weight gradients in f32, as PyTorch's AMP does), all of
/// one dtype.
void check_param_grad_dtype(DType compute, std::initializer_list<const Tensor*> grads, const char* op);
/// Every defined tensor is contiguous.
void check_contiguous(std::initializer_list<const Tensor*> tensors, const char* op);
/// `out` does not share memory with any of `inputs`.
void check_no_alias(const Tensor& out, std::initializer_list<const Tensor*> inputs, const char* op);
/// Floating dtype supported for compute (f32, f64, f16, bf16).
void check_floating(const Tensor& t, const char* op);

}  // namespace ops
}  // namespace sprint
