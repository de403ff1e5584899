// half_widening.h: f16 and bf16 operands on the CPU backend. Its kernels are f32 (and f64 for gradient
// checks): oneDNN 2.6 has no half-precision kernels for most x86 CPUs and sprint's own loops are f32. An op
// given half tensors therefore runs its f32 path on widened copies: each half input is converted to f32, the
// op runs, and each half output is rounded once from the f32 result; an accumulating output is widened first,
// so that dst = round(dst + result). These are the numerics of a half kernel that accumulates in f32 and
// rounds its output once (what cuDNN and cuBLAS compute with an f32 compute type), so a mixed-precision model
// trains on the CPU as it does on a GPU. Each operand costs one conversion pass each way: a path for checking
// mixed-precision training (loss scaling, master weights) on any machine, not a fast one.
#pragma once

#include <bit>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <utility>
#include <vector>

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::cpu {

/// bf16 <-> f32 inline on the 16-bit patterns, branch-free so that the compiler vectorises loops of them; the same
/// rounding as core's bf16_from_float (to nearest even, NaN kept quiet).
inline float widen_bf16_bits(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }
inline uint16_t narrow_bf16_bits(float value) {
  const uint32_t x = std::bit_cast<uint32_t>(value);
  const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (x >> 16) | 0x40u;
  return static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}
inline float widen_bf16(bf16 v) { return widen_bf16_bits(v.bits); }
inline bf16 narrow_bf16(float value) { return bf16{narrow_bf16_bits(value)}; }

/// True when t is defined and f16 or bf16.
bool is_half(const Tensor& t);
/// True when any of the tensors is f16 or bf16 (undefined ones are skipped).
bool any_half(std::initializer_list<const Tensor*> tensors);

/// True when every defined tensor is bf16 and not channel-blocked and the CPU runs bf16 natively (AMX-BF16,
/// has_native_bf16_convolutions): then convolutions and BatchNorm run oneDNN's bf16 kernels instead of widening.
bool native_bf16_operands(const Stream& stream, std::initializer_list<const Tensor*> tensors);

/// The widened operands of one op call: in() and out() hand back the tensor to pass to the f32 path (the
/// tensor itself when it is not half), and finish() rounds every widened output into its half tensor. A
/// widened copy keeps its tensor's memory format (contiguous for strided views), so an op's format rules hold
/// for the copies as they did for the originals.
class HalfWidening {
 public:
  explicit HalfWidening(const Stream& stream) : stream_(stream) {}
  HalfWidening(const HalfWidening&) = delete;
  HalfWidening& operator=(const HalfWidening&) = delete;

  /// An operand the op reads.
  const Tensor& in(const Tensor& t);
  /// An operand the op writes (kOverwrite) or adds to (kAccumulate); also read-modify-write operands.
  const Tensor& out(const Tensor& t, GradMode mode = GradMode::kOverwrite);
  /// A workspace the op writes and reads itself: an uninitialised f32 tensor of t's shape, never copied back.
  const Tensor& scratch(const Tensor& t);
  /// Rounds the f32 results into the half outputs, in the order out() saw them. Call once, after the op.
  void finish();

 private:
  Tensor widened_like(const Tensor& t);

  Stream stream_;
  std::deque<Tensor> copies_;                       // stable addresses for the references handed out
  std::vector<std::pair<Tensor, Tensor>> outputs_;  // (the caller's half tensor, its f32 copy)
};

}  // namespace sprint::cpu
