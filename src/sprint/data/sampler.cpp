// sampler.cpp: per-epoch sample order.
#include "sprint/data/sampler.h"

#include <numeric>

#include "sprint/core/rng.h"

namespace sprint::data {
namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return splitmix64(seed ^ splitmix64(static_cast<uint64_t>(epoch)));
}

void fill_epoch_order(std::span<int32_t> order, bool shuffle, uint64_t seed, int64_t epoch) {
  std::iota(order.begin(), order.end(), 0);
  if (shuffle) {
    Generator rng(epoch_seed(seed, epoch));
    rng.shuffle(order);
  }
}

}  // namespace sprint::data
