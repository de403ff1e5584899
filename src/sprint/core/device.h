// device.h: where a tensor lives. A Device is a type (CPU or CUDA) plus an index; chosen at run time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sprint {

enum class DeviceType : uint8_t { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;

  constexpr bool is_cpu() const { return type == DeviceType::kCPU; }
  constexpr bool is_cuda() const { return type == DeviceType::kCUDA; }
  friend constexpr bool operator==(const Device&, const Device&) = default;
};

inline constexpr Device kCPU{DeviceType::kCPU, 0};
/// cpu:1 .. cpu:7 are logical host devices: the same memory and cores as cpu (cpu:0) under a device identity
/// of their own, so that code placing work on several devices (a pipeline's stages) runs, and is tested, on one
/// host. Their tensors meet another device's only through a copy, as on GPUs.
inline constexpr int kMaxCpuDevices = 8;
constexpr Device cuda_device(int index = 0) { return Device{DeviceType::kCUDA, index}; }

/// "cpu", "cpu:1", "cuda:0", ...
std::string device_name(Device device);
/// Parses "cpu", "cpu:N" (N < kMaxCpuDevices), "cuda", "cuda:N"; throws InvalidArgument otherwise.
Device parse_device(std::string_view text);

}  // namespace sprint
