// cuda_context.cpp: streams, copies and events of one GPU on top of the CUDA runtime API.
#include "sprint/runtime/cuda/cuda_context.h"

#include <cuda_runtime_api.h>

#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/runtime/cuda/cuda_check.h"
#include "sprint/runtime/cuda/nvtx.h"

namespace sprint::cuda {
namespace {
cudaStream_t as_stream(void* s) {
  return static_cast<cudaStream_t>(s);
}
cudaEvent_t as_event(void* e) {
  return static_cast<cudaEvent_t>(e);
}

cudaMemcpyKind memcpy_kind(CopyKind kind) {
  switch (kind) {
    case CopyKind::kHostToDevice: return cudaMemcpyHostToDevice;
    case CopyKind::kDeviceToHost: return cudaMemcpyDeviceToHost;
    case CopyKind::kDeviceToDevice: return cudaMemcpyDeviceToDevice;
    case CopyKind::kPeer: return cudaMemcpyDefault;  // unified addressing finds both devices
    case CopyKind::kHostToHost: return cudaMemcpyHostToHost;
  }
  return cudaMemcpyDefault;
}

cudaStream_t create_non_blocking_stream() {
  cudaStream_t s = nullptr;
  // Non-blocking: no implicit synchronisation with the legacy default stream (which sprint never uses).
  SPRINT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
}  // namespace

CudaContext::CudaContext(int index) : index_(index) {
  properties_ = device_properties(index);  // validates the index
  DeviceGuard device(index);
  try {
    compute_ = create_non_blocking_stream();
    copy_ = create_non_blocking_stream();
    cudaEvent_t e = nullptr;
    SPRINT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    join_event_ = e;
    allocator_ = std::make_unique<CachingAllocator>(index, compute_);
    pinned_ = std::make_unique<PinnedAllocator>(index);
  } catch (...) {
    allocator_.reset();
    pinned_.reset();
    if (join_event_) (void)cudaEventDestroy(as_event(join_event_));
    if (copy_) (void)cudaStreamDestroy(as_stream(copy_));
    if (compute_) (void)cudaStreamDestroy(as_stream(compute_));
    throw;
  }
  log_debug("cuda:{}: context created ({}, {} SMs, {})", index, properties_.name, properties_.n_sms,
            format_bytes(properties_.total_memory_bytes));
}

CudaContext::~CudaContext() {
  // 1. Handles and workspaces (they may free memory back to the allocator and need the streams).
  destroy_extensions();
  int previous = -1;
  if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
  (void)cudaSetDevice(index_);
  // 2. Let queued work finish before its memory disappears.
  for (void* s : {compute_, copy_}) (void)cudaStreamSynchronize(as_stream(s));
  for (void* s : extra_streams_) (void)cudaStreamSynchronize(as_stream(s));
  // 3. Memory, then streams and the event.
  stream_allocators_.clear();
  allocator_.reset();
  pinned_.reset();
  (void)cudaEventDestroy(as_event(join_event_));
  for (void* s : extra_streams_) (void)cudaStreamDestroy(as_stream(s));
  (void)cudaStreamDestroy(as_stream(copy_));
  (void)cudaStreamDestroy(as_stream(compute_));
  if (previous >= 0) (void)cudaSetDevice(previous);
  (void)cudaGetLastError();
}

void* CudaContext::native_stream(const Stream& stream) const {
  SPRINT_CHECK(&stream.context() == this, "stream of {} used with the context of cuda:{}",
               device_name(stream.device()), index_);
  SPRINT_CHECK(stream.native_handle() != nullptr,
               "null CUDA stream (the legacy default stream is never used)");
  return stream.native_handle();
}

Stream CudaContext::create_stream() {
  DeviceGuard device(index_);
  std::lock_guard<std::mutex> lock(mutex_);
  extra_streams_.reserve(extra_streams_.size() + 1);  // no throw after the stream exists
  cudaStream_t s = create_non_blocking_stream();
  extra_streams_.push_back(s);
  return Stream(this, s);
}

Allocator& CudaContext::stream_allocator(const Stream& stream) {
  void* native = native_stream(stream);
  if (native == compute_) return *allocator_;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [s, a] : stream_allocators_)
    if (s == native) return *a;
  stream_allocators_.emplace_back(native, allocator_->for_stream(native));
  return *stream_allocators_.back().second;
}

void CudaContext::synchronize(const Stream& stream) {
  cudaStream_t s = as_stream(native_stream(stream));
  NvtxRange range("cuda.stream_synchronize");
  SPRINT_CUDA_CHECK(cudaStreamSynchronize(s));
}

void CudaContext::synchronize_all() {
  DeviceGuard device(index_);
  SPRINT_CUDA_CHECK(cudaStreamSynchronize(as_stream(compute_)));
  SPRINT_CUDA_CHECK(cudaStreamSynchronize(as_stream(copy_)));
  std::lock_guard<std::mutex> lock(mutex_);
  for (void* s : extra_streams_) SPRINT_CUDA_CHECK(cudaStreamSynchronize(as_stream(s)));
}

bool CudaContext::is_capturing(const Stream& stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SPRINT_CUDA_CHECK(cudaStreamIsCapturing(as_stream(native_stream(stream)), &status));
  return status == cudaStreamCaptureStatusActive;
}

void CudaContext::stream_wait(const Stream& waiting, const Stream& other) {
  cudaStream_t w = as_stream(native_stream(waiting));
  cudaStream_t o = as_stream(native_stream(other));
  if (w == o) return;
  DeviceGuard device(index_);
  // One reusable event: cudaStreamWaitEvent waits for the record that precedes it, so re-recording later is
  // safe.
  std::lock_guard<std::mutex> lock(mutex_);
  SPRINT_CUDA_CHECK(cudaEventRecord(as_event(join_event_), o));
  SPRINT_CUDA_CHECK(cudaStreamWaitEvent(w, as_event(join_event_), 0));
}

void CudaContext::copy_bytes(const Stream& stream, void* dst, const void* src, size_t n_bytes,
                             CopyKind kind) {
  cudaStream_t s = as_stream(native_stream(stream));
  if (n_bytes == 0) return;
  SPRINT_CHECK(dst != nullptr && src != nullptr, "copy_bytes: null pointer");
  DeviceGuard device(index_);
  SPRINT_CUDA_CHECK(cudaMemcpyAsync(dst, src, n_bytes, memcpy_kind(kind), s));
}

void* CudaContext::event_create(bool timing) {
  DeviceGuard device(index_);
  cudaEvent_t e = nullptr;
  SPRINT_CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
  return e;
}

void CudaContext::event_destroy(void* event) noexcept {
  if (event == nullptr) return;
  if (cudaEventDestroy(as_event(event)) != cudaSuccess) (void)cudaGetLastError();
}

void CudaContext::event_record(void* event, const Stream& stream) {
  cudaStream_t s = as_stream(native_stream(stream));
  SPRINT_CUDA_CHECK(cudaEventRecord(as_event(event), s));
}

void CudaContext::event_block(void* event, const Stream& stream) {
  cudaStream_t s = as_stream(native_stream(stream));
  SPRINT_CUDA_CHECK(cudaStreamWaitEvent(s, as_event(event), 0));
}

void CudaContext::event_synchronize(void* event) {
  SPRINT_CUDA_CHECK(cudaEventSynchronize(as_event(event)));
}

bool CudaContext::event_ready(void* event) { return event_completed(as_event(event)); }

float CudaContext::event_elapsed_ms(void* start, void* end) {
  SPRINT_CUDA_CHECK(cudaEventSynchronize(as_event(start)));
  SPRINT_CUDA_CHECK(cudaEventSynchronize(as_event(end)));
  float ms = 0.0f;
  SPRINT_CUDA_CHECK(cudaEventElapsedTime(&ms, as_event(start), as_event(end)));
  return ms;
}

}  // namespace sprint::cuda
