// number_validator.h: StrictRange, the CLI11 validator of every numeric option of `sprint`: the value must be a
// plain decimal number (no octal "010", no hex "0x10", no sign on unsigned options, whole numbers for integer
// options) within [low, high]; the message names what was expected.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <regex>
#include <string>
#include <type_traits>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace sprint::cli {

template <class T>
class StrictRange : public CLI::Validator {
 public:
  StrictRange(T low, T high) {
    name_ = "STRICT_RANGE";
    func_ = [low, high](std::string& text) -> std::string {
      static const std::regex whole("0|[1-9][0-9]*"), signed_whole("-?(0|[1-9][0-9]*)"),
          real("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?");
      if constexpr (std::is_integral_v<T>) {
        const bool ok = std::regex_match(text, std::is_signed_v<T> ? signed_whole : whole);
        if (!ok) return "expected a whole number from " + std::to_string(low) + " to " + std::to_string(high) + ", got " + text;
        errno = 0;
        char* end = nullptr;
        const bool in_range = std::is_signed_v<T> ? [&] {
          const long long v = std::strtoll(text.c_str(), &end, 10);
          return errno == 0 && v >= static_cast<long long>(low) && v <= static_cast<long long>(high);
        }()
                                                  : [&] {
          const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
          return errno == 0 && v >= static_cast<unsigned long long>(low) && v <= static_cast<unsigned long long>(high);
        }();
        if (!in_range) return "expected a whole number from " + std::to_string(low) + " to " + std::to_string(high) + ", got " + text;
      } else {
        if (!std::regex_match(text, real)) return "expected a decimal number, got " + text;
        const double v = std::strtod(text.c_str(), nullptr);
        if (!std::isfinite(v) || v < low || v > high)
          return "expected a number from " + fmt::format("{}", low) + " to " + fmt::format("{}", high) +
                 ", got " + text;
      }
      return std::string();
    };
  }
};

}  // namespace sprint::cli
