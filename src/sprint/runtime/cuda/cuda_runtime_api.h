// cuda_runtime_api.h: what the CUDA runtime library (sprint_cuda) offers to the rest of sprint, in plain C++ so
// that callers never include CUDA headers. Implemented in runtime/cuda/*.cpp; only used when SPRINT_HAS_CUDA.
#pragma once

#include <memory>
#include <string>

#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

/// Number of usable CUDA devices; 0 when the driver or a GPU is missing (never throws).
int device_count();
/// "" when device_count() > 0, else why not (e.g. "CUDA driver not found: cudaErrorInsufficientDriver").
std::string unavailable_reason();
/// Creates the context of GPU `index`: caching allocator, pinned-host allocator, compute and copy streams.
std::unique_ptr<DeviceContext> make_context(int index);

}  // namespace sprint::cuda
