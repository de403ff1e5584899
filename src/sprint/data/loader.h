// loader.h: DataLoader, which turns a host Dataset into batches: a seeded per-epoch shuffle, worker threads
// that gather + normalise samples into a fixed ring of preallocated batch slots, and (for CUDA) pinned host
// buffers copied to the device on the context's copy stream, ordered against the compute stream with events.
// Shapes: images give inputs (B, C, H, W) in options.dtype / options.format; feature data gives (B, F).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "sprint/core/device.h"
#include "sprint/core/dtype.h"
#include "sprint/core/tensor.h"
#include "sprint/data/augment.h"
#include "sprint/data/batch_source.h"
#include "sprint/data/dataset.h"
#include "sprint/data/shard.h"

namespace sprint::data {

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;  ///< drop the final short batch instead of returning it
  uint64_t seed = 0;
  int num_workers = 1;  ///< 0 = assemble batches on the calling thread
  int prefetch = 2;     ///< batches prepared ahead while the caller holds one (ring of prefetch + 1 slots)
  DType dtype = DType::kF32;                        ///< floating dtype of the inputs
  MemoryFormat format = MemoryFormat::kContiguous;  ///< image inputs only: NCHW or channels-last (NHWC)
  Device device = kCPU;
  /// Image data sets only: augmentation applied while gathering (data/augment.h); off by default. Meant for
  /// training loaders: the draws depend on (seed, epoch, sample index).
  AugmentOptions augment = {};
  /// Data-parallel training: this rank's slice of every global batch of batch_size × shard.count (shard.h).
  Shard shard = {};
};

/// Contract
///  - The order of an epoch depends only on (seed, epoch) (Fisher-Yates with sprint's Generator); each sample
///    appears exactly once per epoch (once at most with drop_last). Batch contents are identical for every
///    num_workers and prefetch, augmented or not (the augmentation of a sample is a function of (seed, epoch,
///    its index in the data set)).
///  - Memory: prefetch + 1 batch slots allocated once, host buffers from the device context's host allocator
///    (pinned on CUDA) plus device buffers on CUDA. No allocation per batch in steady state.
///  - next() returns views into a slot: they stay valid until the following next() or start_epoch(). On
///    CUDA the compute stream is made to wait for the batch's copy (an event), so work queued there may use
///    it at once.
///  - An exception raised while assembling a batch (e.g. a label outside [0, num_classes)) is rethrown by the
///    next() that would have returned that batch, and by every next() after it until start_epoch().
///  - Thread safety: call the methods from one thread. The dataset must outlive the loader. Destroying the
///    loader mid-epoch stops and joins the workers.
class DataLoader final : public BatchSource {
 public:
  DataLoader(const Dataset& dataset, DataLoaderOptions options);
  ~DataLoader() override;
  DataLoader(DataLoader&&) noexcept;
  DataLoader& operator=(DataLoader&&) noexcept;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  /// Begins epoch `epoch` (any integer; the shuffle is a function of (seed, epoch)) at batch `first_batch`
  /// (0 <= first_batch <= batches_per_epoch()). Abandons the rest of the current epoch. next() before the first
  /// start_epoch() begins epoch 0.
  void start_epoch(int64_t epoch, int64_t first_batch = 0) override;
  /// The next batch, or nullopt at the end of the epoch.
  std::optional<Batch> next() override;
  int64_t batches_per_epoch() const override;
  const DataLoaderOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sprint::data
