// cuda_runtime_api.h: what the CUDA runtime library (sprint_cuda) offers to the rest of sprint, in plain C++
// so that callers never include CUDA headers. Implemented in runtime/cuda/*.cpp; only used when
// SPRINT_HAS_CUDA.
#pragma once

#include <cstdint>
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

/// What `sprint info` and the logs print about a GPU.
struct DeviceProperties {
  int index = 0;
  std::string name;       ///< "NVIDIA H100 80GB HBM3"
  int compute_major = 0;  ///< compute capability, e.g. 9.0
  int compute_minor = 0;
  int n_sms = 0;                   ///< streaming multiprocessors
  int64_t total_memory_bytes = 0;  ///< global memory
  int64_t l2_cache_bytes = 0;
  int64_t shared_memory_per_block_optin_bytes = 0;
  int max_threads_per_sm = 0;
  int memory_bus_width_bits = 0;
  std::string pci_bus_id;  ///< "0000:65:00.0"
};

/// Properties of GPU `index` (throws InvalidArgument for a bad index, Unsupported without a usable device).
DeviceProperties device_properties(int index);
/// CUDA runtime version this sprint was built with (e.g. 13000), and the driver's (0 without a driver).
int runtime_version();
int driver_version();

/// Opens and closes a nested NVTX range on the calling thread (Nsight Systems' timeline); the tool copies `name`
/// when the range opens. A few nanoseconds when no profiler is attached; never throws.
void nvtx_range_push(const char* name) noexcept;
void nvtx_range_pop() noexcept;

}  // namespace sprint::cuda
