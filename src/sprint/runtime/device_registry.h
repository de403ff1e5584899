// device_registry.h: finds the DeviceContext for a Device. Contexts are created on first use and live until the
// process ends; asking for a CUDA device in a build without CUDA, or one that does not exist, throws.
#pragma once

#include "sprint/runtime/cpu/cpu_context.h"
#include "sprint/runtime/device_context.h"

namespace sprint {

DeviceContext& device_context(Device device);
CpuContext& cpu_context();
/// Number of CUDA devices usable by this process (0 without CUDA support, a driver or a GPU).
int cuda_device_count();
/// Why CUDA is unavailable ("" when it is available): "built without CUDA", "no CUDA driver", ...
std::string cuda_unavailable_reason();

}  // namespace sprint
