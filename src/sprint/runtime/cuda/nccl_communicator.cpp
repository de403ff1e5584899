// nccl_communicator.cpp: NcclCommunicator over NCCL's non-blocking communicators (ncclCommInitRankConfig with
// blocking = 0, ncclCommGetAsyncError polled), ncclCommAbort for the watchdog.
#include "sprint/runtime/cuda/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstring>
#include <thread>

#include "sprint/core/error.h"
#include "sprint/runtime/cuda/cuda_check.h"

namespace sprint::cuda {
namespace {

ncclComm_t as_comm(void* comm) { return static_cast<ncclComm_t>(comm); }

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return ncclFloat32;
    case DType::kF64: return ncclFloat64;
    case DType::kF16: return ncclFloat16;
    case DType::kBF16: return ncclBfloat16;
    case DType::kI32: return ncclInt32;
    case DType::kI64: return ncclInt64;
    case DType::kU8: break;
  }
  SPRINT_THROW(Unsupported, "NCCL collectives take f32, f64, f16, bf16, i32 or i64 tensors, not {}",
               dtype_name(dtype));
}

ncclRedOp_t nccl_op(NcclReduction op) {
  switch (op) {
    case NcclReduction::kSum: return ncclSum;
    case NcclReduction::kAverage: return ncclAvg;
  }
  SPRINT_THROW(InternalError, "unknown NCCL reduction");
}

[[noreturn]] void throw_nccl(ncclResult_t result, const char* what) {
  SPRINT_THROW(BackendError, "NCCL {} failed: {} ({})", what, ncclGetErrorString(result),
               ncclGetLastError(nullptr));
}

}  // namespace

std::string nccl_version() {
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes major * 10000 + minor * 100 + patch.
  return fmt::format("{}.{}.{}", code / 10000, code / 100 % 100, code % 100);
}

NcclUniqueId nccl_unique_id() {
  static_assert(sizeof(ncclUniqueId) == sizeof(NcclUniqueId::bytes));
  ncclUniqueId id;
  const ncclResult_t result = ncclGetUniqueId(&id);
  if (result != ncclSuccess) throw_nccl(result, "unique id");
  NcclUniqueId out;
  std::memcpy(out.bytes.data(), id.internal, sizeof(id.internal));
  return out;
}

NcclCommunicator::NcclCommunicator(int device, int size, int rank, const NcclUniqueId& id,
                                   std::chrono::milliseconds timeout)
    : device_(device), timeout_(timeout) {
  const DeviceGuard guard(device);
  ncclUniqueId nid;
  std::memcpy(nid.internal, id.bytes.data(), sizeof(nid.internal));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm = nullptr;
  const ncclResult_t result = ncclCommInitRankConfig(&comm, size, nid, rank, &config);
  comm_ = comm;
  try {
    settle(result, "communicator initialisation");
  } catch (...) {
    abort();
    throw;
  }
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ == nullptr) return;
  const DeviceGuard guard(device_);
  if (aborted_) return;  // ncclCommAbort freed it
  // Non-blocking destroy: poll for at most the timeout, then abort (never hang in a destructor).
  ncclResult_t result = ncclCommFinalize(as_comm(comm_));
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  while (result == ncclInProgress && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ncclCommGetAsyncError(as_comm(comm_), &result);
  }
  if (result == ncclSuccess) {
    ncclCommDestroy(as_comm(comm_));
  } else {
    ncclCommAbort(as_comm(comm_));
  }
}

void NcclCommunicator::settle(int result_code, const char* what) {
  auto result = static_cast<ncclResult_t>(result_code);
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  auto pause = std::chrono::microseconds(0);
  while (result == ncclInProgress) {
    if (aborted_) SPRINT_THROW(BackendError, "NCCL {}: the communicator was aborted", what);
    if (std::chrono::steady_clock::now() > deadline)
      SPRINT_THROW(BackendError, "NCCL {} did not complete within {} s: another rank has exited, crashed or hangs",
                   what, timeout_.count() / 1000.0);
    pause = std::min(std::chrono::microseconds(1000), pause + std::chrono::microseconds(10));
    std::this_thread::sleep_for(pause);
    ncclCommGetAsyncError(as_comm(comm_), &result);
  }
  if (result != ncclSuccess) throw_nccl(result, what);
}

void NcclCommunicator::allreduce(void* stream, const void* send, void* recv, int64_t count, DType dtype,
                                 NcclReduction op) {
  const DeviceGuard guard(device_);
  settle(ncclAllReduce(send, recv, static_cast<size_t>(count), nccl_type(dtype), nccl_op(op), as_comm(comm_),
                       static_cast<cudaStream_t>(stream)),
         "allreduce");
}

void NcclCommunicator::broadcast(void* stream, void* buffer, int64_t count, DType dtype, int root) {
  const DeviceGuard guard(device_);
  settle(ncclBroadcast(buffer, buffer, static_cast<size_t>(count), nccl_type(dtype), root, as_comm(comm_),
                       static_cast<cudaStream_t>(stream)),
         "broadcast");
}

void NcclCommunicator::allgather(void* stream, const void* send, void* recv, int64_t count_per_rank,
                                 DType dtype) {
  const DeviceGuard guard(device_);
  settle(ncclAllGather(send, recv, static_cast<size_t>(count_per_rank), nccl_type(dtype), as_comm(comm_),
                       static_cast<cudaStream_t>(stream)),
         "allgather");
}

void NcclCommunicator::reduce_scatter(void* stream, const void* send, void* recv, int64_t count_per_rank,
                                      DType dtype, NcclReduction op) {
  const DeviceGuard guard(device_);
  settle(ncclReduceScatter(send, recv, static_cast<size_t>(count_per_rank), nccl_type(dtype), nccl_op(op),
                           as_comm(comm_), static_cast<cudaStream_t>(stream)),
         "reduce_scatter");
}

std::string NcclCommunicator::async_error() {
  if (aborted_ || comm_ == nullptr) return aborted_ ? "the communicator was aborted" : "";
  ncclResult_t result = ncclSuccess;
  if (ncclCommGetAsyncError(as_comm(comm_), &result) != ncclSuccess) return "cannot query the communicator";
  if (result == ncclSuccess || result == ncclInProgress) return "";
  return fmt::format("{} ({})", ncclGetErrorString(result), ncclGetLastError(as_comm(comm_)));
}

void NcclCommunicator::abort() noexcept {
  if (comm_ == nullptr || aborted_.exchange(true)) return;
  ncclCommAbort(as_comm(comm_));
}

}  // namespace sprint::cuda
