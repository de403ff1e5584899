// rng.cpp: Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and Generator.
#include "sprint/core/rng.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "sprint/core/error.h"

namespace sprint {
namespace {
__extension__ typedef unsigned __int128 u128;
constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}
}  // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kPhiloxM0, ctr[0], hi0, lo0);
    mulhilo(kPhiloxM1, ctr[2], hi1, lo1);
    ctr = {hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0};
    key[0] += kPhiloxW0;
    key[1] += kPhiloxW1;
  }
  return ctr;
}

void Generator::set_state(GeneratorState state) {
  seed_ = state.seed;
  offset_ = state.offset;
  block_base_ = ~uint64_t{0};
}

void Generator::refill() {
  const uint64_t block = offset_ >> 2;
  block_ = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u},
                      {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
  block_base_ = block << 2;
}

uint32_t Generator::next_u32() {
  if (block_base_ == ~uint64_t{0} || offset_ < block_base_ || offset_ >= block_base_ + 4) refill();
  const uint32_t word = block_[static_cast<size_t>(offset_ - block_base_)];
  ++offset_;
  return word;
}

uint64_t Generator::next_u64() {
  const uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

float Generator::uniform() { return uniform_from_bits(next_u32()); }

double Generator::uniform_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

float Generator::normal() {
  // Box-Muller; u1 in (0, 1] to keep log finite.
  const double u1 = 1.0 - uniform_double();
  const double u2 = uniform_double();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

uint64_t Generator::below(uint64_t n) {
  SPRINT_CHECK(n > 0, "Generator::below needs n > 0");
  // Lemire's multiply-shift with rejection (unbiased), 64-bit.
  const uint64_t threshold = (0 - n) % n;
  while (true) {
    const u128 m = static_cast<u128>(next_u64()) * n;
    if (static_cast<uint64_t>(m) >= threshold) return static_cast<uint64_t>(m >> 64);
  }
}

void Generator::shuffle(std::span<int32_t> values) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(below(i));
    std::swap(values[i - 1], values[j]);
  }
}

uint64_t Generator::reserve(uint64_t n_words) {
  const uint64_t first = offset_;
  offset_ += n_words;
  return first;
}

Generator Generator::fork() { return Generator(next_u64() ^ 0x9E3779B97F4A7C15ull); }

}  // namespace sprint
