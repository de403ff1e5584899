// dropout.h (backend interface): inverted dropout with a counter-based mask, so no mask is stored and every
// backend draws the same one. Element e (logical row-major index over x's shape, whatever the memory format) is
// kept iff uniform_from_bits(philox_word(seed, offset + e)) >= p (core/rng.h); kept elements are scaled by
// 1 / (1 − p). Any shape; x, y, dy, dx of one call share shape and memory format (contiguous or channels-last).
// The seed and a base offset may instead come from a small device tensor read when the kernel runs
// (DropoutMask::state), so that one captured CUDA graph draws a new mask on every replay.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// Where the mask comes from: a Generator's seed and the offset returned by Generator::reserve(numel).
struct DropoutMask {
  double p = 0.5;  ///< drop probability, in [0, 1)
  uint64_t seed = 0;
  uint64_t offset = 0;
  /// Optional i64 (2) contiguous tensor on the op's device holding {seed, base}, read when the op runs (by
  /// pointer on CUDA, so a captured graph reads each replay's values): the mask then uses seed = state[0] and
  /// offset = state[1] + offset, and `seed` above is ignored. Undefined: seed and offset are used as given.
  Tensor state = {};
};

/// True when logical element `e` is kept (for a mask without a device state).
inline bool dropout_keep(const DropoutMask& m, uint64_t e) {
  return uniform_from_bits(philox_word(m.seed, m.offset + e)) >= static_cast<float>(m.p);
}

struct DropoutForwardArgs {
  const Tensor& x;
  const Tensor& y;  ///< x's shape and format; may alias x
  DropoutMask mask;
};

/// dx (=|+=) dy · keep · 1 / (1 − p), with the forward's mask.
struct DropoutBackwardArgs {
  const Tensor& dy;
  const Tensor& dx;  ///< dy's shape and format; may alias dy in overwrite mode
  DropoutMask mask;
  GradMode mode = GradMode::kOverwrite;
};

/// state[1] += n_words, queued on the stream: advances a DropoutMask::state by one step's worth of words.
struct PhiloxStateAdvanceArgs {
  const Tensor& state;  ///< i64 (2) {seed, base}, contiguous
  uint64_t n_words = 0;
};

namespace cpu {
/// Loops over memory order that are both the reference and the fast path (memory-bound).
void dropout_forward(const Stream& stream, const DropoutForwardArgs& args);
void dropout_backward(const Stream& stream, const DropoutBackwardArgs& args);
void philox_state_advance(const Stream& stream, const PhiloxStateAdvanceArgs& args);
}  // namespace cpu

namespace cuda {
void dropout_forward(const Stream& stream, const DropoutForwardArgs& args);
void dropout_backward(const Stream& stream, const DropoutBackwardArgs& args);
void philox_state_advance(const Stream& stream, const PhiloxStateAdvanceArgs& args);
}  // namespace cuda

}  // namespace sprint
