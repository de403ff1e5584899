// workspace.cpp: per-stream growable device buffers (see workspace.h for the lifetime rules).
#include "sprint/backend/cuda/workspace.h"

#include <algorithm>

#include "sprint/backend/cuda/common.h"

namespace sprint::cuda {

StreamWorkspace::~StreamWorkspace() {
  Allocator& allocator = context_.allocator();
  for (const Entry& e : entries_) allocator.deallocate(e.ptr, e.bytes);
  for (const Retired& r : retired_) allocator.deallocate(r.ptr, r.bytes);
}

size_t StreamWorkspace::capacity(const Stream& stream) const {
  const cudaStream_t native = stream_of(stream);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& e : entries_)
    if (e.stream == native) return e.bytes;
  return 0;
}

int64_t StreamWorkspace::n_allocations() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return n_allocations_;
}

void* StreamWorkspace::get(const Stream& stream, size_t n_bytes) {
  const cudaStream_t native = stream_of(stream);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SPRINT_CUDA_CHECK(cudaStreamIsCapturing(native, &status));
  const bool capturing = status != cudaStreamCaptureStatusNone;

  std::lock_guard<std::mutex> lock(mutex_);
  Entry* entry = nullptr;
  for (Entry& e : entries_)
    if (e.stream == native) entry = &e;
  if (entry != nullptr && entry->bytes >= n_bytes) {
    entry->used_in_capture = entry->used_in_capture || capturing;
    return entry->ptr;
  }
  // Geometric growth in whole MiB.
  size_t bytes = std::max(n_bytes, kMinBytes);
  if (entry != nullptr) bytes = std::max(bytes, 2 * entry->bytes);
  bytes = (bytes + kMinBytes - 1) / kMinBytes * kMinBytes;
  Allocator& allocator = context_.allocator();
  void* ptr = allocator.allocate(bytes);  // throws OutOfMemory; the old buffer is then kept as it was
  ++n_allocations_;
  if (entry == nullptr) {
    entries_.reserve(entries_.size() + 1);
    entries_.push_back({native, ptr, bytes, capturing});
  } else {
    if (entry->used_in_capture || capturing) {
      // A captured graph may address the old buffer: keep it until the context goes away.
      retired_.push_back({entry->ptr, entry->bytes});
    } else {
      // Stream-ordered free: the allocator reuses blocks in compute-stream order, so the compute stream must
      // first wait for the work already queued on this stream that uses the old buffer.
      const Stream compute = context_.compute_stream();
      if (!(stream == compute)) context_.stream_wait(compute, stream);
      allocator.deallocate(entry->ptr, entry->bytes);
    }
    *entry = {native, ptr, bytes, capturing};
  }
  // The block's previous owner may still be in use on the compute stream.
  order_after_compute_stream(stream);
  return ptr;
}

}  // namespace sprint::cuda
