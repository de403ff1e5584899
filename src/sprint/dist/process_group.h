// process_group.h: collectives over the processes of one data-parallel job (sprint's view of an MPI communicator
// or an NCCL one). Every rank calls the same collectives in the same order with tensors of the same shape and
// dtype. Tensors may live on any device and be f32, f64, f16, bf16, i32 or i64: half tensors are reduced in f32
// and rounded once (as NCCL's own f16/bf16 sums accumulate in f32), device tensors are staged through host
// memory by backends that only reach the host. A backend that reaches device memory (NCCL) takes the tensors it
// admits (reduces_on_device) where they live, ordered on the caller's stream: the collective starts after the
// work queued there and the work queued afterwards sees its result, with no host synchronisation. A collective that does not complete within the group's timeout
// (a rank has crashed, was killed or hangs) throws DistTimeout naming this rank and the collective; the group is
// then broken and every later call throws at once. allreduce_async starts an all-reduce that completes while the
// caller goes on (data-parallel gradients reduced while backward still runs); collectives started that way and
// blocking ones are still called in the same order on every rank.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sprint/core/error.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::dist {

enum class ReduceOp : uint8_t { kSum, kAverage };

/// A collective did not complete in time, or the group broke earlier.
class DistTimeout : public Error {
 public:
  using Error::Error;
};

/// Traffic of one rank, in payload bytes handed to the collectives (what it sends; a ring all-reduce moves
/// about twice that over the wire).
struct TrafficCounters {
  int64_t collectives = 0;
  int64_t bytes = 0;
};

/// An all-reduce started by ProcessGroup::allreduce_async. The tensor must stay alive and untouched until wait()
/// has returned; destroying an unfinished one waits for it first (errors then are swallowed: the group is broken).
class PendingCollective {
 public:
  virtual ~PendingCollective() = default;
  /// Lets the collective progress without blocking (MPI progresses non-blocking collectives inside its calls);
  /// true once it has completed on this rank.
  virtual bool test() = 0;
  /// Blocks until it completes (DistTimeout after the group's timeout) and writes the result into the tensor. For
  /// a tensor reduced on its device it orders the caller's stream after the collective instead (no host block):
  /// work queued there afterwards sees the result.
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  /// "single", "mpi", "nccl".
  virtual std::string_view backend_name() const = 0;

  /// In place on every rank: t = Σ_ranks t (or the mean).
  void allreduce(const Stream& stream, const Tensor& t, ReduceOp op);
  /// allreduce, started: t holds the result once the returned collective's wait() has returned.
  std::unique_ptr<PendingCollective> allreduce_async(const Stream& stream, const Tensor& t, ReduceOp op);
  /// In place: every rank's t becomes root's.
  void broadcast(const Stream& stream, const Tensor& t, int root);
  /// out (size · n elements) = the ranks' in (n elements each), in rank order.
  void allgather(const Stream& stream, const Tensor& in, const Tensor& out);
  /// out (n elements) = this rank's n-element slice of Σ_ranks in (size · n elements), or of the mean.
  void reduce_scatter(const Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op);
  void barrier();

  const TrafficCounters& traffic() const { return traffic_; }

  /// A backend's collective in flight on a host buffer (what backends return from start_allreduce_sum).
  class HostRequest {
   public:
    virtual ~HostRequest() = default;
    virtual bool test() = 0;
    virtual void wait() = 0;
  };

 protected:
  ProcessGroup(int rank, int size, std::chrono::milliseconds timeout);

  /// A contiguous host buffer of a dtype every backend reduces natively: f32, f64, i32 or i64.
  struct HostBuffer {
    void* data;
    int64_t count;
    DType dtype;
  };
  // The backend's collectives on host buffers; sums only (the mean is taken here). They throw DistTimeout after
  // timeout() and mark the group broken.
  virtual void allreduce_sum(HostBuffer buffer) = 0;
  /// allreduce_sum, started; the default runs it to completion at once (a backend without non-blocking ones).
  virtual std::unique_ptr<HostRequest> start_allreduce_sum(HostBuffer buffer);
  virtual void broadcast_host(HostBuffer buffer, int root) = 0;
  virtual void allgather_host(HostBuffer in, HostBuffer out) = 0;
  virtual void reduce_scatter_sum(HostBuffer in, HostBuffer out) = 0;
  virtual void barrier_host() = 0;

  /// True when the backend runs collectives on `t` where it lives, without staging it through host memory (NCCL:
  /// contiguous tensors on its GPU). Default: none. The *_on_device collectives below get only such tensors
  /// (allgather and reduce_scatter: when both are), and are ordered on `stream` (see the file comment).
  virtual bool reduces_on_device(const Tensor& t) const;
  virtual void allreduce_on_device(const Stream& stream, const Tensor& t, ReduceOp op);
  virtual std::unique_ptr<PendingCollective> start_allreduce_on_device(const Stream& stream, const Tensor& t,
                                                                      ReduceOp op);
  virtual void broadcast_on_device(const Stream& stream, const Tensor& t, int root);
  virtual void allgather_on_device(const Stream& stream, const Tensor& in, const Tensor& out);
  virtual void reduce_scatter_on_device(const Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op);

  std::chrono::milliseconds timeout() const { return timeout_; }
  /// Throws DistTimeout for `what` and marks the group broken (every later collective throws at once).
  [[noreturn]] void fail_timeout(const std::string& what);
  /// Marks the group broken for `reason` (a collective failed elsewhere: a watchdog, a bootstrap group) and
  /// throws DistTimeout "rank r of n: <reason>".
  [[noreturn]] void fail(const std::string& reason);

 private:
  void check_usable(const char* op) const;
  // allgather (op unset) and reduce_scatter: in staged with its values, out without, out written back.
  void in_to_out(const Stream& stream, const Tensor& in, const Tensor& out, const char* name,
                 std::optional<ReduceOp> op);
  void count(int64_t bytes);
  friend class PendingAllreduce;

  int rank_;
  int size_;
  std::chrono::milliseconds timeout_;
  bool broken_ = false;
  std::string broken_reason_;
  TrafficCounters traffic_;
};

/// A group of one: every collective is the identity (allgather and reduce_scatter copy). What a run without
/// --distributed uses, so that the training loop has one code path.
std::unique_ptr<ProcessGroup> make_single_process_group();

/// True when this build has the MPI backend.
bool mpi_built();
/// True when the process was started by an MPI launcher (mpirun, mpiexec, srun with PMI): its environment names
/// a world size.
bool launched_by_mpi();
/// The MPI group of every process of the job (MPI_COMM_WORLD); initialises MPI on first use (once per process).
/// Unsupported when built without MPI.
std::unique_ptr<ProcessGroup> make_mpi_process_group(std::chrono::milliseconds timeout);

}  // namespace sprint::dist
