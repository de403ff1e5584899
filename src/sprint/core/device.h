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
constexpr Device cuda_device(int index = 0) { return Device{DeviceType::kCUDA, index}; }

/// "cpu", "cuda:0", ...
std::string device_name(Device device);
/// Parses "cpu", "cuda", "cuda:N"; throws InvalidArgument otherwise.
Device parse_device(std::string_view text);

}  // namespace sprint
