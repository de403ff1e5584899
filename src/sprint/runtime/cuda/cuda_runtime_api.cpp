// cuda_runtime_api.cpp: device discovery and context creation. cudart is linked statically, so a binary
// starts on a machine without libcuda.so; cudaGetDeviceCount then reports cudaErrorInsufficientDriver and
// sprint runs on the CPU only.
#include "sprint/runtime/cuda/cuda_runtime_api.h"

#include <cuda_runtime_api.h>

#include <cstdlib>

#include "sprint/core/error.h"
#include "sprint/runtime/cuda/cuda_check.h"
#include "sprint/runtime/cuda/cuda_context.h"
#include "sprint/runtime/cuda/nvtx.h"

namespace sprint::cuda {
namespace {

struct Availability {
  int count = 0;
  std::string reason;
};

std::string visible_devices_note() {
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  return visible ? fmt::format(" (CUDA_VISIBLE_DEVICES={})", visible) : std::string();
}

std::string describe_failure(cudaError_t status) {
  switch (status) {
    case cudaErrorInsufficientDriver:
      return fmt::format(
          "CUDA driver not found or older than the CUDA {}.{} runtime sprint was built with "
          "(cudaErrorInsufficientDriver)",
          CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
    case cudaErrorNoDevice:
      return "no CUDA-capable device is present (cudaErrorNoDevice)" + visible_devices_note();
    default:
      return fmt::format("cudaGetDeviceCount failed: {} ({}){}", cudaGetErrorName(status),
                         cudaGetErrorString(status), visible_devices_note());
  }
}

const Availability& availability() {
  // Devices do not come and go during a process's life: ask once.
  static const Availability cached = [] {
    Availability a;
    int n = 0;
    const cudaError_t status = cudaGetDeviceCount(&n);
    if (status != cudaSuccess) {
      (void)cudaGetLastError();
      a.reason = describe_failure(status);
      return a;
    }
    if (n <= 0) {
      a.reason = "no CUDA device visible" + visible_devices_note();
      return a;
    }
    a.count = n;
    return a;
  }();
  return cached;
}

}  // namespace

int device_count() {
  try {
    return availability().count;
  } catch (...) {
    return 0;
  }
}

std::string unavailable_reason() {
  return availability().reason;
}

std::unique_ptr<DeviceContext> make_context(int index) {
  return std::make_unique<CudaContext>(index);
}

DeviceProperties device_properties(int index) {
  const int n = device_count();
  if (n == 0) SPRINT_THROW(Unsupported, "CUDA is not available: {}", unavailable_reason());
  SPRINT_CHECK(index >= 0 && index < n, "CUDA device {} requested but only {} device(s) present", index, n);
  cudaDeviceProp p{};
  SPRINT_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceProperties out;
  out.index = index;
  out.name = p.name;
  out.compute_major = p.major;
  out.compute_minor = p.minor;
  out.n_sms = p.multiProcessorCount;
  out.total_memory_bytes = static_cast<int64_t>(p.totalGlobalMem);
  out.l2_cache_bytes = p.l2CacheSize;
  out.shared_memory_per_block_optin_bytes = static_cast<int64_t>(p.sharedMemPerBlockOptin);
  out.max_threads_per_sm = p.maxThreadsPerMultiProcessor;
  out.memory_bus_width_bits = p.memoryBusWidth;
  char bus_id[32] = {};
  if (cudaDeviceGetPCIBusId(bus_id, static_cast<int>(sizeof(bus_id)), index) == cudaSuccess) {
    out.pci_bus_id = bus_id;
  } else {
    (void)cudaGetLastError();
  }
  return out;
}

int runtime_version() {
  return CUDART_VERSION;
}

int driver_version() {
  int v = 0;
  if (cudaDriverGetVersion(&v) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return v;
}

void nvtx_range_push(const char* name) noexcept { nvtxRangePushA(name); }

void nvtx_range_pop() noexcept { nvtxRangePop(); }

}  // namespace sprint::cuda
