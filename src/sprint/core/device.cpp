// device.cpp: Device names and parsing.
#include "sprint/core/device.h"

#include <charconv>

#include "sprint/core/error.h"

namespace sprint {

std::string device_name(Device device) {
  if (device.is_cpu()) return "cpu";
  return fmt::format("cuda:{}", device.index);
}

Device parse_device(std::string_view text) {
  if (text == "cpu") return kCPU;
  if (text == "cuda" || text == "gpu") return cuda_device(0);
  if (text.starts_with("cuda:")) {
    std::string_view digits = text.substr(5);
    int index = -1;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && index >= 0) return cuda_device(index);
  }
  SPRINT_THROW(InvalidArgument, "unknown device '{}' (expected cpu, cuda or cuda:N)", text);
}

}  // namespace sprint
