// shard.h: which rows of an epoch's order one data-parallel rank trains on. Every rank computes the same global
// order (seed, epoch) and cuts it into global batches of batch_size × count samples; rank `index` takes the
// index-th of the count equal slices of each (the last, shorter global batch is split as evenly as integers
// allow). The ranks together thus see exactly the batches one process would see with the count-times batch.
#pragma once

#include <cstdint>

#include "sprint/core/error.h"

namespace sprint::data {

struct Shard {
  int index = 0;  ///< this rank, 0 <= index < count
  int count = 1;  ///< ranks sharing the data set; 1 = no sharding
};

/// The rows [first, first + rows) of the epoch order that make a rank's batch.
struct BatchRange {
  int64_t first = 0;
  int64_t rows = 0;
};

/// Global batches per epoch for n samples (every rank has this many batches). Throws InvalidArgument for a bad
/// shard, and when a short last global batch would leave a rank with no sample (drop_last avoids it).
inline int64_t sharded_batches(int64_t n, int64_t batch_size, bool drop_last, const Shard& s) {
  SPRINT_CHECK(s.count >= 1 && s.index >= 0 && s.index < s.count, "data shard {} of {} is not a shard", s.index,
               s.count);
  SPRINT_CHECK(batch_size > 0, "batch_size must be > 0, got {}", batch_size);
  const int64_t global = batch_size * s.count;
  if (drop_last) return n / global;
  const int64_t tail = n % global;
  SPRINT_CHECK(tail == 0 || tail >= s.count,
               "the last batch of {} samples cannot be shared by {} ranks: drop it (--drop-last) or change the "
               "batch size", tail, s.count);
  return (n + global - 1) / global;
}

/// Rank s.index's rows of global batch b (0 <= b < sharded_batches(...)).
inline BatchRange shard_batch(int64_t n, int64_t batch_size, const Shard& s, int64_t b) {
  const int64_t global = batch_size * s.count;
  const int64_t start = b * global;
  const int64_t size = n - start < global ? n - start : global;
  const int64_t from = start + s.index * size / s.count, to = start + (s.index + 1) * size / s.count;
  return {from, to - from};
}

}  // namespace sprint::data
