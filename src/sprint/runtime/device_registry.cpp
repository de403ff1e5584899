// device_registry.cpp: lazily created, process-lifetime device contexts (one per device).
// Compiled into the umbrella library because it needs both the CPU context and, when built, the CUDA runtime.
#include "sprint/runtime/device_registry.h"

#include <array>
#include <memory>
#include <mutex>

#include "sprint/config.h"
#include "sprint/core/error.h"
#if SPRINT_HAS_CUDA
#include "sprint/runtime/cuda/cuda_runtime_api.h"
#endif

namespace sprint {
namespace {
constexpr int kMaxCudaDevices = 16;

struct Registry {
  CpuContext cpu;
  std::array<std::unique_ptr<CpuContext>, kMaxCpuDevices> logical_cpus;  // cpu:1 .. cpu:7, made on first use
  std::mutex mutex;
  std::array<std::unique_ptr<DeviceContext>, kMaxCudaDevices> cuda;
};

Registry& registry() {
  // Leaked on purpose: contexts may be used from static destructors of tensors; the OS reclaims everything.
  static Registry* instance = new Registry();
  return *instance;
}
}  // namespace

CpuContext& cpu_context() { return registry().cpu; }

DeviceContext& device_context(Device device) {
  if (device.is_cpu()) {
    if (device.index == 0) return registry().cpu;
    SPRINT_CHECK(device.index > 0 && device.index < kMaxCpuDevices, "CPU device index {} out of range (cpu:0 .. cpu:{})",
                 device.index, kMaxCpuDevices - 1);
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    auto& slot = r.logical_cpus[static_cast<size_t>(device.index)];
    if (!slot) slot = std::make_unique<CpuContext>(device.index);
    return *slot;
  }
#if SPRINT_HAS_CUDA
  SPRINT_CHECK(device.index >= 0 && device.index < kMaxCudaDevices, "CUDA device index {} out of range",
               device.index);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  auto& slot = r.cuda[static_cast<size_t>(device.index)];
  if (!slot) {
    const int count = cuda::device_count();
    if (count == 0) SPRINT_THROW(Unsupported, "CUDA is not available: {}", cuda::unavailable_reason());
    SPRINT_CHECK(device.index < count, "CUDA device {} requested but only {} device(s) present", device.index,
                 count);
    slot = cuda::make_context(device.index);
  }
  return *slot;
#else
  SPRINT_THROW(Unsupported, "device {} requested but this sprint was built without CUDA (SPRINT_CUDA=OFF)",
               device_name(device));
#endif
}

int cuda_device_count() {
#if SPRINT_HAS_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::string cuda_unavailable_reason() {
#if SPRINT_HAS_CUDA
  return cuda::unavailable_reason();
#else
  return "sprint was built without CUDA (SPRINT_CUDA=OFF)";
#endif
}

}  // namespace sprint
