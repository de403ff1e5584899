// common.h (CUDA backend, host side): what every CUDA entry point needs before it launches anything: the
// native stream of a sprint Stream, an OpScope (NVTX range + current device), grid sizing, and the dtype
// checks shared by the .cu files and the vendor-wrapper .cpp files. Device-side helpers live in common.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "sprint/core/dtype.h"
#include "sprint/core/error.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/cuda/cuda_check.h"
#include "sprint/runtime/cuda/nvtx.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/stream.h"

namespace sprint::cuda {

/// The cudaStream_t of a CUDA stream. Throws InvalidArgument for CPU streams and for null handles (sprint
/// never queues work on the legacy default stream).
inline cudaStream_t stream_of(const Stream& stream) {
  SPRINT_CHECK(stream.valid() && stream.device().is_cuda(), "CUDA op called with a {} stream",
               stream.valid() ? device_name(stream.device()) : std::string("default-constructed"));
  SPRINT_CHECK(stream.native_handle() != nullptr, "CUDA op called with a null stream handle");
  return static_cast<cudaStream_t>(stream.native_handle());
}

/// Opens an NVTX range named after the op, makes the stream's device current, and extracts the native stream.
/// Every cuda:: entry point starts with one.
class OpScope {
 public:
  OpScope(const Stream& stream, const char* op)
      : stream_(stream_of(stream)), range_(op), device_(stream.device().index) {}
  cudaStream_t stream() const { return stream_; }

 private:
  cudaStream_t stream_;
  NvtxRange range_;
  DeviceGuard device_;
};

/// Threads per block for element-wise kernels, and the cap on blocks (kernels use grid-stride loops, so a
/// capped grid still covers any n; 8192 blocks of 256 threads fill an H100 several times over).
inline constexpr int kThreads = 256;
inline constexpr int64_t kMaxBlocks = 8192;

/// Blocks for n work items at `per_block` items per block, in [1, max_blocks].
inline unsigned blocks_for(int64_t n, int64_t per_block = kThreads, int64_t max_blocks = kMaxBlocks) {
  const int64_t b = n <= 0 ? 1 : (n + per_block - 1) / per_block;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, max_blocks));
}

/// Floating dtypes the CUDA kernels compute in (with float accumulation): f32, f16, bf16.
inline bool is_cuda_floating(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16;
}

/// Throws Unsupported unless `dtype` is f32, f16 or bf16.
inline void check_cuda_floating(DType dtype, const char* op) {
  if (!is_cuda_floating(dtype))
    SPRINT_THROW(Unsupported, "{} on CUDA supports f32, f16 and bf16, got {} (f64 runs on the CPU only)", op,
                 dtype_name(dtype));
}

/// Makes `stream` wait for the work queued so far on its context's compute stream, before it first touches a
/// block the (compute-stream-ordered) caching allocator just handed out. Skipped while `stream` is capturing a
/// graph (a capture cannot wait on work outside it): warm up persistent buffers before capturing on side streams.
inline void order_after_compute_stream(const Stream& stream) {
  DeviceContext& context = stream.context();
  const Stream compute = context.compute_stream();
  if (stream == compute) return;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SPRINT_CUDA_CHECK(cudaStreamIsCapturing(stream_of(stream), &status));
  if (status == cudaStreamCaptureStatusNone) context.stream_wait(stream, compute);
}

}  // namespace sprint::cuda
