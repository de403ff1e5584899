// dtype.cpp: dtype names/sizes and the f16/bf16 <-> f32 conversions (bit manipulation, round to nearest even).
#include "sprint/core/dtype.h"

#include <bit>
#include <cstring>

#include "sprint/core/error.h"

namespace sprint {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
  }
  SPRINT_ASSERT(false, "unknown dtype {}", static_cast<int>(dtype));
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF64: return "f64";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kU8: return "u8";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "float32" || name == "float") return DType::kF32;
  if (name == "f64" || name == "float64" || name == "double") return DType::kF64;
  if (name == "f16" || name == "float16" || name == "half" || name == "fp16") return DType::kF16;
  if (name == "bf16" || name == "bfloat16") return DType::kBF16;
  if (name == "i32" || name == "int32") return DType::kI32;
  if (name == "i64" || name == "int64") return DType::kI64;
  if (name == "u8" || name == "uint8") return DType::kU8;
  SPRINT_THROW(InvalidArgument, "unknown dtype '{}' (expected f32, f16, bf16, f64, i32, i64 or u8)", name);
}

bool dtype_is_floating(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF64 || dtype == DType::kF16 || dtype == DType::kBF16;
}

bool dtype_is_half(DType dtype) { return dtype == DType::kF16 || dtype == DType::kBF16; }

f16 f16_from_float(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7fffffffu;
  f16 out;
  if (abs >= 0x7f800000u) {  // inf or NaN
    out.bits = static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0u));
    return out;
  }
  if (abs >= 0x477ff000u) {  // rounds to >= 65520: overflow to inf
    out.bits = static_cast<uint16_t>(sign | 0x7c00u);
    return out;
  }
  if (abs < 0x38800000u) {  // subnormal half (or zero): value < 2^-14
    // Shift the 24-bit significand (with implicit bit) into half-subnormal position, round to nearest even.
    const int exponent = static_cast<int>(abs >> 23);
    if (exponent < 102) {  // < 2^-25: rounds to zero
      out.bits = static_cast<uint16_t>(sign);
      return out;
    }
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const int shift = 126 - exponent;  // 14 + (127 - exponent) - 1 ... places bit 23 at 2^-24 resolution
    uint32_t half_mant = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half_mant & 1u))) ++half_mant;
    out.bits = static_cast<uint16_t>(sign | half_mant);
    return out;
  }
  // Normal: rebias exponent (127 -> 15), keep 10 mantissa bits, round to nearest even (carry may bump exponent).
  uint32_t h = ((abs - 0x38000000u) >> 13);
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  out.bits = static_cast<uint16_t>(sign | h);
  return out;
}

float f16_to_float(f16 value) {
  const uint32_t sign = static_cast<uint32_t>(value.bits & 0x8000u) << 16;
  const uint32_t exponent = (value.bits >> 10) & 0x1fu;
  uint32_t mantissa = value.bits & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1fu) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | ((112u - static_cast<uint32_t>(e)) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

bf16 bf16_from_float(float value) {
  uint32_t x = std::bit_cast<uint32_t>(value);
  bf16 out;
  if ((x & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep it quiet
    out.bits = static_cast<uint16_t>((x >> 16) | 0x40u);
    return out;
  }
  x += 0x7fffu + ((x >> 16) & 1u);
  out.bits = static_cast<uint16_t>(x >> 16);
  return out;
}

float bf16_to_float(bf16 value) { return std::bit_cast<float>(static_cast<uint32_t>(value.bits) << 16); }

}  // namespace sprint
