// loader.cpp: DataLoader. Workers claim batch indices in order; batch b lives in slot b % n_slots and may be
// filled once the caller has let go of batch b - n_slots. All shared state is guarded by one mutex; the
// gather itself runs unlocked into the claimed slot. CUDA: host slot -> device slot on the copy stream, with
// `copied` (copy stream -> compute stream and host refill) and `released` (compute stream -> next copy)
// events.
#include "sprint/data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/data/sampler.h"
#include "sprint/ops/data.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::data {
namespace {

constexpr int kMaxWorkers = 64;

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Impl
// ------------------------------------------------------------------------------------------------------------
class DataLoader::Impl {
 public:
  Impl(const Dataset& dataset, DataLoaderOptions options);
  ~Impl();

  void start_epoch(int64_t epoch, int64_t first_batch);
  std::optional<Batch> next();
  int64_t batches_per_epoch() const { return n_batches_; }
  const DataLoaderOptions& options() const { return opt_; }

 private:
  struct Slot {
    Tensor host_inputs;    // (B, ...) from the host allocator (pinned on CUDA)
    Tensor host_labels;    // i32 (B)
    Tensor device_inputs;  // CUDA only
    Tensor device_labels;  // CUDA only
    Event copied;          // CUDA: recorded on the copy stream after this slot's host -> device copies
    Event released;        // CUDA: recorded on the compute stream when the caller let go of the slot's batch
    int64_t batch = -1;    // batch index the slot holds when `ready`
    bool ready = false;
    std::exception_ptr error;
  };

  BatchRange batch_range(int64_t b) const { return shard_batch(n_, opt_.batch_size, opt_.shard, b); }
  int64_t batch_rows(int64_t b) const { return batch_range(b).rows; }
  Slot& slot_of(int64_t b) { return slots_[static_cast<size_t>(b % static_cast<int64_t>(slots_.size()))]; }
  bool can_claim() const;
  void worker_main();
  void fill(Slot& slot, int64_t b);
  bool release_held_locked();
  void start_epoch_locked(std::unique_lock<std::mutex>& lock, int64_t epoch, int64_t first_batch = 0);

  const Dataset& dataset_;
  const DataLoaderOptions opt_;
  DeviceContext& ctx_;
  const bool on_device_;  // batches are copied to a CUDA device
  const int64_t n_;
  const int64_t n_batches_;
  Tensor order_;  // i32 (N): this epoch's sample order
  int64_t epoch_ = 0;  // this epoch (set with order_, read by the fills)
  std::vector<Slot> slots_;

  std::mutex mutex_;
  std::condition_variable work_cv_;   // workers: a batch became claimable, or stop
  std::condition_variable ready_cv_;  // caller: a batch became ready, or a fill finished
  bool stop_ = false;
  bool started_ = false;  // an epoch is running (claims allowed)
  bool failed_ = false;   // a batch of this epoch failed; next() rethrows `error_`
  std::exception_ptr error_;
  int64_t next_claim_ = 0;    // next batch index a worker fills
  int64_t next_consume_ = 0;  // next batch index next() returns
  int64_t held_ = -1;         // batch the caller holds, -1 for none
  int in_flight_ = 0;         // fills running unlocked
  bool any_epoch_ = false;    // start_epoch has been called
  std::vector<std::thread> workers_;
};

DataLoader::Impl::Impl(const Dataset& dataset, DataLoaderOptions options)
    : dataset_(dataset),
      opt_(options),
      ctx_(device_context(options.device)),
      on_device_(options.device.is_cuda()),
      n_(dataset.size()),
      n_batches_(options.batch_size > 0 ? sharded_batches(n_, options.batch_size, options.drop_last, options.shard)
                                        : 0) {
  const Tensor& x = dataset.inputs;
  SPRINT_CHECK(x.defined() && dataset.labels.defined(), "DataLoader: dataset {} has no inputs or labels",
               dataset.name);
  SPRINT_CHECK(x.device().is_cpu() && dataset.labels.device().is_cpu(),
               "DataLoader: dataset {} must be in host memory", dataset.name);
  SPRINT_CHECK(x.dim(0) == n_, "DataLoader: dataset {} has {} inputs but {} labels", dataset.name, x.dim(0),
               n_);
  SPRINT_CHECK(dataset.num_classes >= 0, "DataLoader: dataset {} has num_classes {}", dataset.name,
               dataset.num_classes);
  SPRINT_CHECK(n_ <= INT32_MAX, "DataLoader: at most 2^31 - 1 samples (i32 indices), got {}", n_);
  SPRINT_CHECK(opt_.batch_size > 0, "DataLoader: batch_size must be > 0, got {}", opt_.batch_size);
  SPRINT_CHECK(opt_.prefetch >= 1, "DataLoader: prefetch must be >= 1, got {}", opt_.prefetch);
  SPRINT_CHECK(opt_.num_workers >= 0 && opt_.num_workers <= kMaxWorkers,
               "DataLoader: num_workers must be in 0..{}, got {}", kMaxWorkers, opt_.num_workers);
  SPRINT_CHECK(dtype_is_floating(opt_.dtype), "DataLoader: dtype must be floating, got {}",
               dtype_name(opt_.dtype));
  const bool images = x.dtype() == DType::kU8;
  if (images) {
    SPRINT_CHECK(x.ndim() == 4, "DataLoader: u8 images must be (N, C, H, W), got {}", x.description());
    const auto c = static_cast<size_t>(x.dim(1));
    SPRINT_CHECK(
        dataset.mean.size() == dataset.std.size() && (dataset.mean.empty() || dataset.mean.size() == c),
        "DataLoader: dataset {} has {} channels but {} means and {} standard deviations", dataset.name, c,
        dataset.mean.size(), dataset.std.size());
  } else {
    SPRINT_CHECK(x.ndim() == 2 && dtype_is_floating(x.dtype()),
                 "DataLoader: inputs must be u8 images (N, C, H, W) or floating features (N, F), got {}",
                 x.description());
    SPRINT_CHECK(opt_.format == MemoryFormat::kContiguous,
                 "DataLoader: channels-last needs 4-D image inputs, got {}", x.description());
    SPRINT_CHECK(dataset.mean.empty() && dataset.std.empty(),
                 "DataLoader: feature data is not normalised: dataset {} must have empty mean/std",
                 dataset.name);
  }
  check_augment_options(opt_.augment, dataset, "DataLoader");

  // Everything the epochs need, allocated once.
  order_ = Tensor::empty({n_}, DType::kI32);
  // Batch buffers hold min(batch_size, N) rows: a batch size beyond the data set costs no memory.
  const int64_t capacity = std::min(opt_.batch_size, std::max<int64_t>(n_, 1));
  Shape batch_shape{capacity};
  for (int i = 1; i < x.ndim(); ++i) batch_shape.push_back(x.dim(i));
  const MemoryFormat format = images ? opt_.format : MemoryFormat::kContiguous;
  const int n_slots = opt_.prefetch + 1;
  slots_.resize(static_cast<size_t>(n_slots));
  for (Slot& s : slots_) {
    s.host_inputs = Tensor::empty(batch_shape, opt_.dtype, ctx_.host_allocator(), format);
    s.host_labels = Tensor::empty({capacity}, DType::kI32, ctx_.host_allocator());
    if (on_device_) {
      s.device_inputs = Tensor::empty(batch_shape, opt_.dtype, ctx_.allocator(), format);
      s.device_labels = Tensor::empty({capacity}, DType::kI32, ctx_.allocator());
      s.copied = Event(ctx_);
      s.released = Event(ctx_);
      // The device buffers come from the compute stream's allocator, which may hand out a block that kernels
      // queued earlier on that stream still read: the first copy into them (on the copy stream) waits for those.
      s.released.record(ctx_.compute_stream());
    }
  }
  workers_.reserve(static_cast<size_t>(opt_.num_workers));
  try {
    for (int i = 0; i < opt_.num_workers; ++i) workers_.emplace_back([this] { worker_main(); });
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    throw;
  }
}

DataLoader::Impl::~Impl() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();  // a worker finishes the batch it is filling, then exits
  if (on_device_) {
    try {
      // Copies may still read the pinned buffers and kernels may still read the held batch: wait for both.
      if (held_ >= 0) slot_of(held_).released.record(ctx_.compute_stream());
      for (Slot& s : slots_) {
        s.copied.synchronize();
        s.released.synchronize();
      }
    } catch (const std::exception&) {
      // A failing device cannot be waited for; nothing better to do in a destructor.
    }
  }
}

bool DataLoader::Impl::can_claim() const {
  const int64_t window_start = held_ >= 0 ? held_ : next_consume_;
  return started_ && !failed_ && next_claim_ < n_batches_ &&
         next_claim_ < window_start + static_cast<int64_t>(slots_.size());
}

void DataLoader::Impl::worker_main() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_cv_.wait(lock, [this] { return stop_ || can_claim(); });
    if (stop_) return;
    const int64_t b = next_claim_++;
    Slot& slot = slot_of(b);
    ++in_flight_;
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(slot, b);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    --in_flight_;
    slot.batch = b;
    slot.ready = true;
    slot.error = error;
    lock.unlock();
    ready_cv_.notify_all();  // the caller (in next() or start_epoch()) is the only waiter
    lock.lock();
  }
}

// Gathers batch b into `slot` (host), then queues its copy to the device. Runs without the lock: the slot is
// this thread's alone until it is marked ready.
void DataLoader::Impl::fill(Slot& slot, int64_t b) {
  const int64_t rows = batch_rows(b);
  const bool full = rows == slots_.front().host_labels.dim(0);
  const Tensor indices = order_.narrow(0, batch_range(b).first, rows);
  const Tensor inputs = full ? slot.host_inputs : slot.host_inputs.narrow(0, 0, rows);
  const Tensor labels = full ? slot.host_labels : slot.host_labels.narrow(0, 0, rows);
  // The previous copy out of this host buffer must have finished before it is overwritten.
  if (on_device_) slot.copied.synchronize();
  const Stream host = cpu_context().compute_stream();
  ops::gather_normalize(host, {.src = dataset_.inputs,
                               .indices = indices,
                               .out = inputs,
                               .mean = dataset_.mean,
                               .std = dataset_.std,
                               .augment = image_augment(opt_.augment, opt_.seed, epoch_)});
  ops::gather_labels(
      host,
      {.labels = dataset_.labels, .indices = indices, .out = labels, .num_classes = dataset_.num_classes});
  if (on_device_) {
    const Stream copy = ctx_.copy_stream();
    slot.released.block(copy);  // the compute stream is done with the previous batch in the device buffers
    // Same layout on both sides and dim 0 outermost: the first `rows` samples are a byte prefix.
    ctx_.copy_bytes(copy, slot.device_inputs.data(), slot.host_inputs.data(), inputs.n_bytes(),
                    CopyKind::kHostToDevice);
    ctx_.copy_bytes(copy, slot.device_labels.data(), slot.host_labels.data(), labels.n_bytes(),
                    CopyKind::kHostToDevice);
    slot.copied.record(copy);
  }
}

// Lets go of the batch the caller holds; returns true when that freed a slot (a worker may claim one more
// batch: the caller wakes one).
bool DataLoader::Impl::release_held_locked() {
  if (held_ < 0) return false;
  Slot& slot = slot_of(held_);
  if (on_device_) slot.released.record(ctx_.compute_stream());
  slot.ready = false;
  held_ = -1;
  return true;
}

void DataLoader::Impl::start_epoch_locked(std::unique_lock<std::mutex>& lock, int64_t epoch, int64_t first_batch) {
  SPRINT_CHECK(first_batch >= 0 && first_batch <= n_batches_, "DataLoader: cannot start epoch {} at batch {} of {}",
               epoch, first_batch, n_batches_);
  started_ =
      false;  // no new claims; wait for fills in progress (they write into slots we are about to reset)
  ready_cv_.wait(lock, [this] { return in_flight_ == 0; });
  release_held_locked();
  for (Slot& s : slots_) {
    s.ready = false;
    s.batch = -1;
    s.error = nullptr;
  }
  // Identity, then Fisher-Yates: the order is a function of (seed, epoch) alone, not of earlier epochs.
  fill_epoch_order(std::span<int32_t>(order_.data_as<int32_t>(), static_cast<size_t>(n_)), opt_.shuffle,
                   opt_.seed, epoch);
  epoch_ = epoch;
  next_claim_ = first_batch;
  next_consume_ = first_batch;
  failed_ = false;
  error_ = nullptr;
  any_epoch_ = true;
  started_ = true;
  work_cv_.notify_all();
}

void DataLoader::Impl::start_epoch(int64_t epoch, int64_t first_batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  start_epoch_locked(lock, epoch, first_batch);
}

std::optional<Batch> DataLoader::Impl::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!any_epoch_) start_epoch_locked(lock, 0);
  if (failed_) std::rethrow_exception(error_);
  bool wake_worker = release_held_locked();
  if (next_consume_ >= n_batches_) return std::nullopt;  // nothing left to claim either
  const int64_t b = next_consume_;
  Slot& slot = slot_of(b);
  if (workers_.empty()) {
    lock.unlock();
    std::exception_ptr error;
    try {
      fill(slot, b);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    slot.batch = b;
    slot.ready = true;
    slot.error = error;
  } else if (!(slot.ready && slot.batch == b)) {
    if (wake_worker) work_cv_.notify_one();  // before sleeping: the freed slot may be the one batch b needs
    wake_worker = false;
    ready_cv_.wait(lock, [&] { return slot.ready && slot.batch == b; });
  }
  next_consume_ = b + 1;
  if (slot.error) {
    failed_ = true;
    error_ = slot.error;
    slot.ready = false;
    std::rethrow_exception(error_);  // failed_ stops further claims: no worker to wake
  }
  held_ = b;
  lock.unlock();
  if (wake_worker) work_cv_.notify_one();  // outside the lock, so the worker does not block on it at once

  const int64_t rows = batch_rows(b);
  const bool full = rows == slots_.front().host_labels.dim(0);
  Batch batch;
  batch.index = b;
  batch.size = rows;
  const Tensor& inputs = on_device_ ? slot.device_inputs : slot.host_inputs;
  const Tensor& labels = on_device_ ? slot.device_labels : slot.host_labels;
  batch.inputs = full ? inputs : inputs.narrow(0, 0, rows);
  batch.labels = full ? labels : labels.narrow(0, 0, rows);
  // Work queued on the compute stream from now on sees the copied batch (no host block).
  if (on_device_) slot.copied.block(ctx_.compute_stream());
  return batch;
}

// ------------------------------------------------------------------------------------------------------------
// DataLoader
// ------------------------------------------------------------------------------------------------------------
DataLoader::DataLoader(const Dataset& dataset, DataLoaderOptions options)
    : impl_(std::make_unique<Impl>(dataset, options)) {}
DataLoader::~DataLoader() = default;
DataLoader::DataLoader(DataLoader&&) noexcept = default;
DataLoader& DataLoader::operator=(DataLoader&&) noexcept = default;

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  impl_->start_epoch(epoch, first_batch);
}
std::optional<Batch> DataLoader::next() {
  return impl_->next();
}
int64_t DataLoader::batches_per_epoch() const {
  return impl_->batches_per_epoch();
}
const DataLoaderOptions& DataLoader::options() const {
  return impl_->options();
}

}  // namespace sprint::data
