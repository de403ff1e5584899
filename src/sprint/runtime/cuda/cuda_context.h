// cuda_context.h: CudaContext, the DeviceContext of one GPU. It owns two non-blocking streams (compute,
// copy), the caching device allocator, the pinned host allocator and, through extensions, the vendor handles
// (cuBLASLt, cuDNN). Plain C++: streams and events appear as void* (cudaStream_t / cudaEvent_t in the .cpp).
// Teardown order: extensions (handles, workspaces) -> stream synchronisation -> allocators -> streams.
#pragma once

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "sprint/runtime/cuda/caching_allocator.h"
#include "sprint/runtime/cuda/cuda_runtime_api.h"
#include "sprint/runtime/cuda/pinned_allocator.h"
#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

class CudaContext final : public DeviceContext {
 public:
  /// Creates the streams and allocators of GPU `index` (which must exist).
  explicit CudaContext(int index);
  ~CudaContext() override;
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  Device device() const override { return cuda_device(index_); }
  Allocator& allocator() override { return *allocator_; }
  /// The allocator for work on `stream` (one per stream, created on first use; all share one pool).
  Allocator& stream_allocator(const Stream& stream) override;
  Allocator& host_allocator() override { return *pinned_; }
  Stream compute_stream() override { return Stream(this, compute_); }
  Stream copy_stream() override { return Stream(this, copy_); }
  void synchronize(const Stream& stream) override;
  void stream_wait(const Stream& waiting, const Stream& other) override;
  void copy_bytes(const Stream& stream, void* dst, const void* src, size_t n_bytes, CopyKind kind) override;
  bool is_capturing(const Stream& stream) override;

  void* event_create(bool timing) override;
  void event_destroy(void* event) noexcept override;
  void event_record(void* event, const Stream& stream) override;
  void event_block(void* event, const Stream& stream) override;
  void event_synchronize(void* event) override;
  bool event_ready(void* event) override;
  float event_elapsed_ms(void* start, void* end) override;

  int index() const { return index_; }
  CachingAllocator& caching_allocator() { return *allocator_; }
  PinnedAllocator& pinned_allocator() { return *pinned_; }
  const DeviceProperties& properties() const { return properties_; }
  /// A further non-blocking stream owned by this context (destroyed with it), e.g. for a pipeline stage or a
  /// second copy direction. Tensors its work produces come from stream_allocator(stream); tensors of other
  /// streams it uses are marked with record_stream (runtime/stream.h).
  Stream create_stream() override;
  /// Blocks until all work on all of this context's streams has finished.
  void synchronize_all();
  /// The cudaStream_t of a stream of this context (throws if it belongs to another context or is null).
  void* native_stream(const Stream& stream) const;

 private:
  int index_;
  DeviceProperties properties_;
  void* compute_ = nullptr;  // cudaStream_t
  void* copy_ = nullptr;     // cudaStream_t
  std::vector<void*> extra_streams_;
  std::mutex mutex_;            // guards extra_streams_ and join_event_
  void* join_event_ = nullptr;  // cudaEvent_t reused by stream_wait
  std::unique_ptr<CachingAllocator> allocator_;
  std::vector<std::pair<void*, std::unique_ptr<CachingAllocator>>> stream_allocators_;  // guarded by mutex_
  std::unique_ptr<PinnedAllocator> pinned_;
};

}  // namespace sprint::cuda
