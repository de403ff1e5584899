// caching_allocator.cpp: the DeviceMemory of one GPU (cudaMalloc in relaxed capture mode, a cache of timing-free
// events, cudaDeviceSynchronize) under a StreamOrderedPool.
#include "sprint/runtime/cuda/caching_allocator.h"

#include <cuda_runtime_api.h>

#include <vector>

#include "sprint/core/error.h"
#include "sprint/runtime/cuda/cuda_check.h"

namespace sprint::cuda {
namespace {

class CudaDeviceMemory final : public DeviceMemory {
 public:
  explicit CudaDeviceMemory(int index) : index_(index) {}
  ~CudaDeviceMemory() override {
    for (cudaEvent_t e : free_events_) (void)cudaEventDestroy(e);
    (void)cudaGetLastError();
  }

  Device device() const override { return cuda_device(index_); }

  void* malloc(size_t n_bytes) override {
    DeviceGuard device(index_);
    void* ptr = nullptr;
    cudaError_t status;
    {
      RelaxedCaptureModeGuard relaxed;
      status = cudaMalloc(&ptr, n_bytes);
    }
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      return nullptr;
    }
    SPRINT_CUDA_CHECK(status);
    return ptr;
  }

  void free(void* ptr) noexcept override {
    try {
      DeviceGuard device(index_);
      if (cudaFree(ptr) != cudaSuccess) (void)cudaGetLastError();
    } catch (const std::exception&) {
      (void)cudaGetLastError();  // the device is gone: nothing left to free
    }
  }

  void* record_event(void* stream) override {
    DeviceGuard device(index_);
    cudaEvent_t e = nullptr;
    if (!free_events_.empty()) {
      e = free_events_.back();
      free_events_.pop_back();
    } else {
      SPRINT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    }
    const cudaError_t status = cudaEventRecord(e, static_cast<cudaStream_t>(stream));
    if (status != cudaSuccess) {
      free_events_.push_back(e);
      SPRINT_CUDA_CHECK(status);
    }
    return e;
  }

  bool event_done(void* event) override { return event_completed(static_cast<cudaEvent_t>(event)); }

  void release_event(void* event) noexcept override { free_events_.push_back(static_cast<cudaEvent_t>(event)); }

  void synchronize() override {
    DeviceGuard device(index_);
    SPRINT_CUDA_CHECK(cudaDeviceSynchronize());
  }

  bool capturing(void* stream) override {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(static_cast<cudaStream_t>(stream), &status) != cudaSuccess) {
      (void)cudaGetLastError();
      return true;  // be conservative: no waits, no event queries
    }
    return status != cudaStreamCaptureStatusNone;
  }

  void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept override {
    free_bytes = total_bytes = 0;
    try {
      DeviceGuard device(index_);
      if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        free_bytes = total_bytes = 0;
      }
    } catch (const std::exception&) {
      (void)cudaGetLastError();
    }
  }

 private:
  int index_;
  std::vector<cudaEvent_t> free_events_;  // guarded by the pool's lock
};

}  // namespace

CachingAllocator::CachingAllocator(int device_index, void* stream)
    : pool_(std::make_shared<StreamOrderedPool>(std::make_unique<CudaDeviceMemory>(device_index))), stream_(stream) {}

CachingAllocator::CachingAllocator(std::shared_ptr<StreamOrderedPool> pool, void* stream)
    : pool_(std::move(pool)), stream_(stream) {}

CachingAllocator::~CachingAllocator() = default;

std::unique_ptr<CachingAllocator> CachingAllocator::for_stream(void* stream) const {
  SPRINT_CHECK(stream != nullptr, "null CUDA stream (the legacy default stream is never used)");
  return std::unique_ptr<CachingAllocator>(new CachingAllocator(pool_, stream));
}

Device CachingAllocator::device() const { return pool_->device(); }

void* CachingAllocator::allocate(size_t n_bytes) { return pool_->allocate(n_bytes, stream_); }

void CachingAllocator::deallocate(void* ptr, size_t n_bytes) noexcept {
  (void)n_bytes;
  pool_->deallocate(ptr);
}

void CachingAllocator::record_stream(void* ptr, void* native_stream) { pool_->record_stream(ptr, native_stream); }

AllocatorStats CachingAllocator::stats() const { return pool_->stats(); }

void CachingAllocator::reset_peak_stats() { pool_->reset_peak_stats(); }

void CachingAllocator::release_cached() { pool_->release_cached(); }

int64_t CachingAllocator::cached_bytes() const { return pool_->cached_bytes(); }

int64_t CachingAllocator::n_segments() const { return pool_->n_segments(); }

int64_t CachingAllocator::n_waiting_blocks() const { return pool_->n_waiting_blocks(); }

void CachingAllocator::set_memory_limit(size_t n_bytes) { pool_->set_memory_limit(n_bytes); }

}  // namespace sprint::cuda
