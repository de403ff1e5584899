// resident_loader.cpp: the device-resident batch source.
#include "sprint/data/resident_loader.h"

#include "sprint/core/error.h"
#include "sprint/data/sampler.h"
#include "sprint/ops/data.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::data {

ResidentLoader::ResidentLoader(const Dataset& dataset, const DataLoaderOptions& options)
    : options_(options),
      stream_(device_context(options.device).compute_stream()),
      mean_(dataset.mean),
      std_(dataset.std),
      n_(dataset.size()) {
  SPRINT_CHECK(options.batch_size > 0, "ResidentLoader: batch_size must be > 0, got {}", options.batch_size);
  SPRINT_CHECK(dataset.inputs.defined() && dataset.labels.defined() && dataset.inputs.dim(0) == n_,
               "ResidentLoader: dataset {} has inconsistent inputs and labels", dataset.name);
  SPRINT_CHECK(n_ > 0 && n_ <= INT32_MAX, "ResidentLoader: dataset {} has {} samples", dataset.name, n_);
  check_augment_options(options.augment, dataset, "ResidentLoader");
  n_batches_ = sharded_batches(n_, options.batch_size, options.drop_last, options.shard);
  DeviceContext& ctx = stream_.context();
  // Upload the data set once (host tensors may be views of a larger set: make them contiguous on the host).
  inputs_ = ops::to_stream_device(stream_, dataset.inputs.is_contiguous()
                                               ? dataset.inputs
                                               : ops::cast_to(cpu_context().compute_stream(), dataset.inputs,
                                                              dataset.inputs.dtype()));
  labels_ = ops::to_stream_device(stream_, dataset.labels);
  host_order_ = Tensor::empty({n_}, DType::kI32, ctx.host_allocator());
  order_ = Tensor::empty({n_}, DType::kI32, ctx.allocator());
  Shape batch_shape = dataset.inputs.shape();
  const int64_t capacity = std::min(options.batch_size, std::max<int64_t>(n_, 1));  // no rows beyond the data set
  batch_shape[0] = capacity;
  const bool images = dataset.inputs.dtype() == DType::kU8;
  batch_inputs_ = Tensor::empty(batch_shape, images ? options.dtype : dataset.inputs.dtype(), ctx.allocator(),
                                images ? options.format : MemoryFormat::kContiguous);
  batch_labels_ = Tensor::empty({capacity}, DType::kI32, ctx.allocator());
  stream_.synchronize();  // the uploads used pageable host memory
}

void ResidentLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  SPRINT_CHECK(first_batch >= 0 && first_batch <= n_batches_,
               "ResidentLoader: cannot start epoch {} at batch {} of {}", epoch, first_batch, n_batches_);
  // The previous epoch's order may still be read by queued gathers: wait before rewriting the staging buffer.
  stream_.synchronize();
  fill_epoch_order(std::span<int32_t>(host_order_.data_as<int32_t>(), static_cast<size_t>(n_)), options_.shuffle,
                   options_.seed, epoch);
  ops::copy(stream_, host_order_, order_);
  epoch_ = epoch;
  next_batch_ = first_batch;
  started_ = true;
}

std::optional<Batch> ResidentLoader::next() {
  if (!started_) start_epoch(0);
  if (next_batch_ >= n_batches_) return std::nullopt;
  const BatchRange range = shard_batch(n_, options_.batch_size, options_.shard, next_batch_);
  const int64_t rows = range.rows;
  const Tensor indices = order_.narrow(0, range.first, rows);
  Batch b;
  b.inputs = batch_inputs_.rows(0, rows);
  b.labels = batch_labels_.rows(0, rows);
  b.index = next_batch_++;
  b.size = rows;
  ops::gather_normalize(stream_, {.src = inputs_, .indices = indices, .out = b.inputs, .mean = mean_, .std = std_,
                                .augment = image_augment(options_.augment, options_.seed, epoch_)});
  ops::gather_labels(stream_, {.labels = labels_, .indices = indices, .out = b.labels});
  return b;
}

int64_t ResidentLoader::device_bytes() const {
  return static_cast<int64_t>(inputs_.n_bytes() + labels_.n_bytes() + order_.n_bytes() + batch_inputs_.n_bytes() +
                              batch_labels_.n_bytes());
}

}  // namespace sprint::data
