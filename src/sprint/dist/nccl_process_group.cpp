// nccl_process_group.cpp: ProcessGroup over an NCCL communicator (runtime/cuda/nccl_communicator.h), with a
// communication stream, events ordering it against the caller's stream, record_stream for the tensors it
// touches, and a watchdog thread that aborts the communicator when a collective outlives the timeout.
#include "sprint/dist/nccl_process_group.h"

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "sprint/runtime/cuda/nccl_communicator.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/runtime/stream.h"

namespace sprint::dist {
namespace {

cuda::NcclReduction reduction(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return cuda::NcclReduction::kSum;
    case ReduceOp::kAverage: return cuda::NcclReduction::kAverage;
  }
  SPRINT_THROW(InternalError, "unknown reduction");
}

bool nccl_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32:
    case DType::kI64: return true;
    case DType::kU8: return false;
  }
  return false;
}

// Collectives in flight on the communication stream, each with its completion event and deadline. The thread
// polls them every millisecond or so; one past its deadline, or an asynchronous NCCL error, aborts the
// communicator (its kernels return, so streams waiting on them go on) and records why.
class Watchdog {
 public:
  Watchdog(cuda::NcclCommunicator& comm, std::chrono::milliseconds timeout)
      : comm_(comm), timeout_(timeout), thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void watch(Event done, std::string what) {
    std::lock_guard lock(mutex_);
    in_flight_.push_back({std::move(done), std::move(what), std::chrono::steady_clock::now() + timeout_});
    wake_.notify_all();
  }
  /// "" while healthy, else why the communicator was aborted.
  std::string failure() {
    std::lock_guard lock(mutex_);
    return failure_;
  }
  /// Blocks until every watched collective has completed or the communicator was aborted.
  void drain() {
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return in_flight_.empty() || !failure_.empty(); });
  }

 private:
  struct InFlight {
    Event done;
    std::string what;
    std::chrono::steady_clock::time_point deadline;
  };

  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      while (!in_flight_.empty() && in_flight_.front().done.ready()) in_flight_.pop_front();
      if (in_flight_.empty()) drained_.notify_all();
      if (failure_.empty()) {
        std::string reason;
        if (!in_flight_.empty() && std::chrono::steady_clock::now() > in_flight_.front().deadline)
          reason = fmt::format("{} did not complete within {} s: another rank has exited, crashed or hangs",
                               in_flight_.front().what, timeout_.count() / 1000.0);
        else if (std::string error = comm_.async_error(); !error.empty())
          reason = "NCCL reported " + error;
        if (!reason.empty()) {
          failure_ = reason;
          comm_.abort();
          drained_.notify_all();
        }
      }
      wake_.wait_for(lock, std::chrono::milliseconds(in_flight_.empty() ? 20 : 1));
    }
  }

  cuda::NcclCommunicator& comm_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable wake_, drained_;
  std::deque<InFlight> in_flight_;
  std::string failure_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members it reads exist
};

class NcclProcessGroup;

// An all-reduce started on the communication stream: test() asks its event, wait() orders the caller's stream
// after it.
class PendingNccl final : public PendingCollective {
 public:
  PendingNccl(NcclProcessGroup& group, const Stream& stream, std::shared_ptr<Event> done)
      : group_(group), stream_(stream), done_(std::move(done)) {}
  bool test() override { return done_->ready(); }
  void wait() override;

 private:
  NcclProcessGroup& group_;
  Stream stream_;
  std::shared_ptr<Event> done_;
};

class NcclProcessGroup final : public ProcessGroup {
 public:
  NcclProcessGroup(std::unique_ptr<ProcessGroup> bootstrap, DeviceContext& gpu, std::chrono::milliseconds timeout)
      : ProcessGroup(bootstrap->rank(), bootstrap->size(), timeout),
        bootstrap_(std::move(bootstrap)),
        gpu_(gpu),
        comm_stream_(gpu.create_stream()) {
    SPRINT_CHECK(gpu.device().is_cuda(), "the NCCL process group needs a CUDA device, got {}",
                 device_name(gpu.device()));
    // Rank 0 names the communicator; the bootstrap group hands the name to the others (as 16 i64).
    cuda::NcclUniqueId id;
    if (rank() == 0) id = cuda::nccl_unique_id();
    const Tensor name = Tensor::empty(Shape{16}, DType::kI64);
    std::memcpy(name.data(), id.bytes.data(), id.bytes.size());
    bootstrap_->broadcast(host(), name, 0);
    std::memcpy(id.bytes.data(), name.data(), id.bytes.size());
    comm_ = std::make_unique<cuda::NcclCommunicator>(gpu.device().index, size(), rank(), id, timeout);
    watchdog_ = std::make_unique<Watchdog>(*comm_, timeout);
  }
  ~NcclProcessGroup() override {
    watchdog_->drain();
    watchdog_.reset();
  }
  std::string_view backend_name() const override { return "nccl"; }

  /// Throws (marking the group broken) when the watchdog aborted the communicator.
  void check_watchdog() {
    if (std::string failure = watchdog_->failure(); !failure.empty()) fail(failure);
  }

 protected:
  bool reduces_on_device(const Tensor& t) const override {
    return t.device() == gpu_.device() && t.is_contiguous() && nccl_dtype(t.dtype());
  }

  void allreduce_on_device(const Stream& stream, const Tensor& t, ReduceOp op) override {
    const std::shared_ptr<Event> done = run(stream, {t}, describe("allreduce", t), [&] {
      comm_->allreduce(comm_stream_.native_handle(), t.data(), t.data(), t.numel(), t.dtype(), reduction(op));
    });
    done->block(stream);
  }
  std::unique_ptr<PendingCollective> start_allreduce_on_device(const Stream& stream, const Tensor& t,
                                                              ReduceOp op) override {
    std::shared_ptr<Event> done = run(stream, {t}, describe("allreduce", t), [&] {
      comm_->allreduce(comm_stream_.native_handle(), t.data(), t.data(), t.numel(), t.dtype(), reduction(op));
    });
    return std::make_unique<PendingNccl>(*this, stream, std::move(done));
  }
  void broadcast_on_device(const Stream& stream, const Tensor& t, int root) override {
    run(stream, {t}, describe("broadcast", t), [&] {
      comm_->broadcast(comm_stream_.native_handle(), t.data(), t.numel(), t.dtype(), root);
    })->block(stream);
  }
  void allgather_on_device(const Stream& stream, const Tensor& in, const Tensor& out) override {
    run(stream, {in, out}, describe("allgather", in), [&] {
      comm_->allgather(comm_stream_.native_handle(), in.data(), out.data(), in.numel(), in.dtype());
    })->block(stream);
  }
  void reduce_scatter_on_device(const Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op) override {
    run(stream, {in, out}, describe("reduce_scatter", out), [&] {
      comm_->reduce_scatter(comm_stream_.native_handle(), in.data(), out.data(), out.numel(), out.dtype(),
                            reduction(op));
    })->block(stream);
  }

  // Host tensors: the bootstrap group's collectives (MPI), on views of the staged buffers.
  void allreduce_sum(HostBuffer b) override {
    on_host([&] { bootstrap_->allreduce(host(), view(b), ReduceOp::kSum); });
  }
  void broadcast_host(HostBuffer b, int root) override {
    on_host([&] { bootstrap_->broadcast(host(), view(b), root); });
  }
  void allgather_host(HostBuffer in, HostBuffer out) override {
    on_host([&] { bootstrap_->allgather(host(), view(in), view(out)); });
  }
  void reduce_scatter_sum(HostBuffer in, HostBuffer out) override {
    on_host([&] { bootstrap_->reduce_scatter(host(), view(in), view(out), ReduceOp::kSum); });
  }
  void barrier_host() override {
    // Work already queued on the communication stream finishes first, as a barrier of GPU collectives would
    // (a collective the watchdog aborted returns too, and the check below reports it).
    check_watchdog();
    try {
      comm_stream_.synchronize();
    } catch (const Error&) {
      check_watchdog();
      throw;
    }
    on_host([&] { bootstrap_->barrier(); });
  }

 private:
  static const Stream& host() {
    static const Stream s = cpu_context().compute_stream();
    return s;
  }
  static Tensor view(HostBuffer b) { return Tensor::wrap(b.data, Shape{b.count}, b.dtype); }
  static std::string describe(const char* op, const Tensor& t) {
    return fmt::format("{} of {} {} on the GPU", op, t.numel(), dtype_name(t.dtype()));
  }

  template <typename F>
  void on_host(F&& f) {
    check_watchdog();
    try {
      f();
    } catch (const DistTimeout& e) {
      fail(e.what());
    }
  }

  // Queues `enqueue` on the communication stream after the work queued on `stream`, marks the tensors as used
  // there (their memory is not reused before the collective ends), and watches the collective's end.
  template <typename F>
  std::shared_ptr<Event> run(const Stream& stream, std::initializer_list<Tensor> tensors, std::string what,
                             F&& enqueue) {
    check_watchdog();
    Event ready(gpu_);
    ready.record(stream);
    ready.block(comm_stream_);
    for (const Tensor& t : tensors) record_stream(t, comm_stream_);
    try {
      enqueue();
    } catch (const Error& e) {
      fail(fmt::format("{}: {}", what, e.what()));
    }
    auto done = std::make_shared<Event>(gpu_);
    done->record(comm_stream_);
    Event watched(gpu_);
    watched.record(comm_stream_);
    watchdog_->watch(std::move(watched), std::move(what));
    return done;
  }

  std::unique_ptr<ProcessGroup> bootstrap_;
  DeviceContext& gpu_;
  Stream comm_stream_;
  std::unique_ptr<cuda::NcclCommunicator> comm_;
  std::unique_ptr<Watchdog> watchdog_;
};

void PendingNccl::wait() {
  group_.check_watchdog();
  done_->block(stream_);
}

}  // namespace

bool nccl_built() { return true; }

std::string nccl_version() { return cuda::nccl_version(); }

std::unique_ptr<ProcessGroup> make_nccl_process_group(std::unique_ptr<ProcessGroup> bootstrap, DeviceContext& gpu,
                                                      std::chrono::milliseconds timeout) {
  SPRINT_CHECK(bootstrap != nullptr, "the NCCL process group needs a bootstrap group");
  return std::make_unique<NcclProcessGroup>(std::move(bootstrap), gpu, timeout);
}

}  // namespace sprint::dist
