// philox.cuh (CUDA backend): Philox-4x32-10, bit for bit the generator of core/rng.cpp, usable on the device
// and on the host (the host path lets a CPU-only test check it against sprint::philox4x32). Word i of the
// stream of `seed` is word (i & 3) of the block with counter {i >> 2 (low, high), 0, 0} and key {seed (low,
// high)}, exactly like sprint::philox_word.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sprint::cuda {

namespace philox_detail {
inline constexpr uint32_t kM0 = 0xD2511F53u;
inline constexpr uint32_t kM1 = 0xCD9E8D57u;
inline constexpr uint32_t kW0 = 0x9E3779B9u;
inline constexpr uint32_t kW1 = 0xBB67AE85u;

__host__ __device__ __forceinline__ uint32_t mulhi(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}
}  // namespace philox_detail

/// The four words of one Philox-4x32-10 block.
struct PhiloxWords {
  uint32_t w[4];
};

/// sprint::philox4x32(counter, key).
__host__ __device__ __forceinline__ PhiloxWords philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                                             uint32_t k0, uint32_t k1) {
  using namespace philox_detail;
#ifdef __CUDACC__
#pragma unroll
#endif
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = mulhi(kM0, c0), lo0 = kM0 * c0;
    const uint32_t hi1 = mulhi(kM1, c2), lo1 = kM1 * c2;
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return PhiloxWords{{c0, c1, c2, c3}};
}

/// Block `block` (= word index >> 2) of the stream of `seed`.
__host__ __device__ __forceinline__ PhiloxWords philox_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u,
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

/// Word k (0..3) of a block, without a dynamically indexed (local-memory) array.
__host__ __device__ __forceinline__ uint32_t philox_select(const PhiloxWords& b, uint32_t k) {
  return k == 0 ? b.w[0] : k == 1 ? b.w[1] : k == 2 ? b.w[2] : b.w[3];
}

/// sprint::philox_word(seed, i).
__host__ __device__ __forceinline__ uint32_t philox_word(uint64_t seed, uint64_t i) {
  return philox_select(philox_block(seed, i >> 2), static_cast<uint32_t>(i & 3));
}

/// sprint::uniform_from_bits: uniform float in [0, 1) from the top 24 bits (exact: 24-bit integer times 2^-24).
__host__ __device__ __forceinline__ float philox_uniform(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

}  // namespace sprint::cuda
