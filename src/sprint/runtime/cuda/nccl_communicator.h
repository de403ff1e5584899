// nccl_communicator.h: an NCCL communicator of one GPU per rank, in plain C++ (callers never include NCCL or CUDA
// headers). Built into sprint_cuda when CMake finds NCCL (SPRINT_HAS_NCCL); the data-parallel process group
// (dist/nccl_process_group.cpp) drives it. The communicator is non-blocking (NCCL's `blocking = 0`): joining it
// and every collective call return at once or report "in progress", and are then polled against a deadline, so
// that a rank that never joins or never takes part is an error instead of a hang. abort() ends the collectives in
// flight from any thread (a watchdog's answer to a rank that stopped).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "sprint/core/dtype.h"

namespace sprint::cuda {

/// The name of a communicator, made by one rank and handed to the others (over MPI).
struct NcclUniqueId {
  std::array<char, 128> bytes{};
};

/// "2.28.9": the version of the NCCL library loaded.
std::string nccl_version();
/// A fresh communicator name (rank 0 makes it).
NcclUniqueId nccl_unique_id();

enum class NcclReduction : uint8_t { kSum, kAverage };

class NcclCommunicator {
 public:
  /// Joins the communicator `id` of `size` ranks as `rank`, on GPU `device`. Throws BackendError naming NCCL's
  /// error, or when the other ranks have not joined within `timeout` (the deadline of every later call too).
  NcclCommunicator(int device, int size, int rank, const NcclUniqueId& id, std::chrono::milliseconds timeout);
  /// Destroys the communicator (its work finished), or frees it after abort().
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // Collectives queued on `stream` (a cudaStream_t of this GPU). Buffers are device memory; counts in elements
  // (allgather and reduce_scatter: per rank); send may equal recv (in place). dtype: f32, f64, f16, bf16, i32
  // or i64. They return once queued; a call NCCL reports in progress is polled up to the timeout.
  void allreduce(void* stream, const void* send, void* recv, int64_t count, DType dtype, NcclReduction op);
  void broadcast(void* stream, void* buffer, int64_t count, DType dtype, int root);
  void allgather(void* stream, const void* send, void* recv, int64_t count_per_rank, DType dtype);
  void reduce_scatter(void* stream, const void* send, void* recv, int64_t count_per_rank, DType dtype,
                      NcclReduction op);

  /// "" while healthy, else NCCL's asynchronous error (a peer failed, a network error). Thread-safe.
  std::string async_error();
  /// Ends every collective in flight (their kernels return without completing) and makes the communicator
  /// unusable. Thread-safe; idempotent.
  void abort() noexcept;
  bool aborted() const { return aborted_.load(); }

 private:
  // Polls the communicator until NCCL no longer reports `result` in progress; throws for errors and past the
  // deadline.
  void settle(int result, const char* what);

  void* comm_ = nullptr;  // ncclComm_t
  int device_ = 0;
  std::chrono::milliseconds timeout_;
  std::atomic<bool> aborted_{false};
};

}  // namespace sprint::cuda
