// sampler.h: the per-epoch sample order shared by every batch source: identity, then (when shuffling) a
// Fisher-Yates shuffle with sprint's Generator seeded from (seed, epoch) alone, so that any epoch can be
// replayed and every loader (threaded or device-resident) visits the samples in the same order.
#pragma once

#include <cstdint>
#include <span>

namespace sprint::data {

/// The Generator seed of epoch `epoch` for loader seed `seed`.
uint64_t epoch_seed(uint64_t seed, int64_t epoch);
/// Writes this epoch's order of [0, order.size()) into `order`.
void fill_epoch_order(std::span<int32_t> order, bool shuffle, uint64_t seed, int64_t epoch);

}  // namespace sprint::data
