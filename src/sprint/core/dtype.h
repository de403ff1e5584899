// dtype.h: run-time element types (DType) and their host-side storage types, including f16 and bf16.
// Device and dtype are chosen at run time everywhere in sprint; this is the single list of element types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sprint {

enum class DType : uint8_t {
  kF32,   ///< IEEE binary32; the default compute type.
  kF64,   ///< IEEE binary64; CPU only, used by the finite-difference gradient checks.
  kF16,   ///< IEEE binary16 (half).
  kBF16,  ///< bfloat16 (8-bit exponent, 7-bit mantissa).
  kI32,   ///< int32, e.g. class labels and indices.
  kI64,   ///< int64.
  kU8,    ///< uint8, e.g. raw image bytes.
};

/// Bytes per element.
size_t dtype_size(DType dtype);
/// Lower-case name used in messages and files: "f32", "f64", "f16", "bf16", "i32", "i64", "u8".
std::string_view dtype_name(DType dtype);
/// Parses dtype_name()'s names (and "float32", "float16", "bfloat16", "half"); throws InvalidArgument otherwise.
DType parse_dtype(std::string_view name);
bool dtype_is_floating(DType dtype);
/// f16 or bf16.
bool dtype_is_half(DType dtype);

/// Host storage for one IEEE half. Arithmetic goes through float.
struct f16 {
  uint16_t bits = 0;
};
/// Host storage for one bfloat16. Arithmetic goes through float.
struct bf16 {
  uint16_t bits = 0;
};

/// Round-to-nearest-even conversions (NaN and infinities preserved).
f16 f16_from_float(float value);
float f16_to_float(f16 value);
bf16 bf16_from_float(float value);
float bf16_to_float(bf16 value);

/// Maps a C++ element type to its DType: dtype_of<float>() == DType::kF32.
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::kF32; }
template <>
constexpr DType dtype_of<double>() { return DType::kF64; }
template <>
constexpr DType dtype_of<f16>() { return DType::kF16; }
template <>
constexpr DType dtype_of<bf16>() { return DType::kBF16; }
template <>
constexpr DType dtype_of<int32_t>() { return DType::kI32; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::kI64; }
template <>
constexpr DType dtype_of<uint8_t>() { return DType::kU8; }

}  // namespace sprint
