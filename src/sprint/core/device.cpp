// device.cpp: Device names and parsing.
#include "sprint/core/device.h"

#include <charconv>

#include "sprint/core/error.h"

namespace sprint {

std::string device_name(Device device) {
  if (device.is_cpu()) return device.index == 0 ? "cpu" : fmt::format("cpu:{}", device.index);
  return fmt::format("cuda:{}", device.index);
}

namespace {
// "N" of "cuda:N" / "cpu:N"; -1 when `digits` is not a whole number >= 0.
int parse_index(std::string_view digits) {
  int index = -1;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  return ec == std::errc() && ptr == digits.data() + digits.size() && index >= 0 ? index : -1;
}
}  // namespace

Device parse_device(std::string_view text) {
  if (text == "cpu") return kCPU;
  if (text == "cuda" || text == "gpu") return cuda_device(0);
  if (text.starts_with("cuda:"))
    if (const int index = parse_index(text.substr(5)); index >= 0) return cuda_device(index);
  if (text.starts_with("cpu:"))
    if (const int index = parse_index(text.substr(4)); index >= 0 && index < kMaxCpuDevices)
      return Device{DeviceType::kCPU, index};
  SPRINT_THROW(InvalidArgument, "unknown device '{}' (expected cpu, cpu:N with N < {}, cuda or cuda:N)", text,
               kMaxCpuDevices);
}

}  // namespace sprint
