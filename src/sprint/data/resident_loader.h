// resident_loader.h: ResidentLoader, the device-resident data path. The whole data set (u8 images or f32
// features, and labels) is copied to the device once; every epoch uploads one order (N i32), and every batch
// is one gather + normalise kernel and one label gather on the compute stream into fixed buffers. No host
// threads, no per-batch host->device copies, and the batch tensors keep their addresses (CUDA-graph friendly).
// Batches equal the DataLoader's for the same options (same order; the same normalised values, bit for bit, for
// images of up to 3 channels; the same augmentation, computed in the gather kernel from (seed, epoch, sample)).
#pragma once

#include "sprint/data/batch_source.h"
#include "sprint/data/dataset.h"
#include "sprint/data/loader.h"
#include "sprint/runtime/stream.h"

namespace sprint::data {

class ResidentLoader final : public BatchSource {
 public:
  /// Uploads `dataset` to options.device (num_workers and prefetch are ignored). Throws OutOfMemory when the
  /// data set does not fit. The dataset may be destroyed afterwards.
  ResidentLoader(const Dataset& dataset, const DataLoaderOptions& options);

  void start_epoch(int64_t epoch, int64_t first_batch = 0) override;
  std::optional<Batch> next() override;
  int64_t batches_per_epoch() const override { return n_batches_; }
  /// Bytes held on the device (data set + order + batch buffers).
  int64_t device_bytes() const;

 private:
  DataLoaderOptions options_;
  Stream stream_;
  Tensor inputs_, labels_;          // the data set on the device
  Tensor host_order_, order_;       // i32 (N): host staging (pinned on CUDA), device copy
  Tensor batch_inputs_, batch_labels_;
  std::vector<float> mean_, std_;
  int64_t n_ = 0, n_batches_ = 0, next_batch_ = 0, epoch_ = 0;
  bool started_ = false;
};

}  // namespace sprint::data
