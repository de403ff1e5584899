// cpu_common.h: helpers shared by the CPU backend: reaching the CpuContext from a stream, choosing between the
// reference loop and the fast path, dtype dispatch, and keeping OpenBLAS/OpenMP thread counts in step.
#pragma once

#include <type_traits>

#include "sprint/core/dtype.h"
#include "sprint/core/error.h"
#include "sprint/runtime/cpu/cpu_context.h"
#include "sprint/runtime/stream.h"

namespace sprint::cpu {

/// The CpuContext behind a CPU stream (throws if the stream is not a CPU stream).
CpuContext& context_of(const Stream& stream);

/// True when the op should run its reference loop: f64 (the fast paths are f32), or reference mode is on.
inline bool use_reference(const Stream& stream, DType dtype) {
  return dtype != DType::kF32 || context_of(stream).reference_only();
}

/// Applies the context's thread count to OpenMP (oneDNN) on the calling thread and to OpenBLAS (process-wide),
/// each when it differs from what was last applied there; returns it. Every thread that runs ops gets the
/// context's count on its first op and after each change, not only the thread that applied it first.
int sync_threads(const Stream& stream);

/// Threads for an element-wise loop over n elements: the context's count from 64 Ki elements on (below that a
/// second thread costs more than it gives), else 1. Element-wise results do not depend on it.
inline int elementwise_threads(const Stream& stream, int64_t n) {
  constexpr int64_t kMinParallel = int64_t{1} << 16;
  return n >= kMinParallel ? sync_threads(stream) : 1;
}

/// Calls f(T{}) with T = float or double according to dtype; throws Unsupported for other dtypes.
template <class F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::kF32: f(float{}); return;
    case DType::kF64: f(double{}); return;
    default: SPRINT_THROW(Unsupported, "{} on the CPU supports f32 and f64, got {}", op, dtype_name(dtype));
  }
}

/// out (=|+=) value, by GradMode-like flag.
template <class T>
inline void store(T& out, T value, bool accumulate) {
  out = accumulate ? out + value : value;
}

}  // namespace sprint::cpu
