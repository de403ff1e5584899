// batch_source.h: BatchSource, what the trainer pulls batches from: the threaded host DataLoader or the
// device-resident ResidentLoader. Both visit samples in the order of sampler.h, so they give the same batches.
#pragma once

#include <cstdint>
#include <optional>

#include "sprint/core/tensor.h"

namespace sprint::data {

struct Batch {
  Tensor inputs;      ///< (size, C, H, W) or (size, F) on the loader's device
  Tensor labels;      ///< i32 (size) on the loader's device
  int64_t index = 0;  ///< position of the batch in the epoch, 0-based
  int64_t size = 0;   ///< number of samples; < batch_size only for the last batch when !drop_last
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  /// Begins epoch `epoch` (the order is a function of (seed, epoch)); abandons the rest of the current one. With
  /// first_batch > 0 the epoch resumes there: the batches before it are skipped without being assembled, and the
  /// ones after are those a full epoch would have given (resuming a run from a checkpoint).
  virtual void start_epoch(int64_t epoch, int64_t first_batch = 0) = 0;
  /// The next batch, or nullopt at the end of the epoch. The batch stays valid until the following next() or
  /// start_epoch(); work queued on the device's compute stream may use it at once.
  virtual std::optional<Batch> next() = 0;
  virtual int64_t batches_per_epoch() const = 0;
};

}  // namespace sprint::data
