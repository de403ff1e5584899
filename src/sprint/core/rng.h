// rng.h: counter-based random numbers (Philox-4x32-10). A Generator is (seed, offset): the same seed gives the
// same stream bit for bit on every run and thread count, and the GPU can regenerate any block from its offset,
// so dropout masks and shuffles are reproducible on CPU and CUDA alike.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace sprint {

/// One Philox-4x32-10 block: 4 random words for (counter, key).
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

/// Uniform float in [0, 1) from 24 random bits.
inline float uniform_from_bits(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }

/// Where a Generator stands: replaying from the same state reproduces the same numbers.
struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;  ///< number of 32-bit words consumed so far
};

/// Deterministic random source. Not thread-safe: give each thread its own generator (e.g. fork()).
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { set_state({seed, 0}); }

  uint32_t next_u32();
  uint64_t next_u64();
  /// Uniform in [0, 1).
  float uniform();
  double uniform_double();
  /// Uniform in [low, high).
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  /// Standard normal (Box-Muller on two uniforms).
  float normal();
  /// Uniform integer in [0, n) without modulo bias; n > 0.
  uint64_t below(uint64_t n);
  /// Fisher-Yates shuffle.
  void shuffle(std::span<int32_t> values);
  /// Reserves `n_words` consecutive 32-bit words for a counter-based consumer (e.g. a GPU dropout kernel that
  /// computes word i as philox(offset + i)) and returns the first offset.
  uint64_t reserve(uint64_t n_words);
  /// A new independent generator derived from this one (consumes 2 words).
  Generator fork();

  GeneratorState state() const { return {seed_, offset_}; }
  void set_state(GeneratorState state);
  uint64_t seed() const { return seed_; }

 private:
  void refill();

  uint64_t seed_ = 0;
  uint64_t offset_ = 0;  // next word to hand out
  std::array<uint32_t, 4> block_{};
  uint64_t block_base_ = ~uint64_t{0};  // offset of block_[0]; all-ones = none cached
};

/// Word `i` of the stream of `seed`: the same value Generator(seed) hands out as its i-th next_u32().
inline uint32_t philox_word(uint64_t seed, uint64_t i) {
  const uint64_t block = i >> 2;
  auto words = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u},
                          {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  return words[i & 3];
}

}  // namespace sprint
