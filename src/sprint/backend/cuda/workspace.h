// workspace.h (CUDA backend): StreamWorkspace, one growable device buffer per stream for the op families that
// need temporary device memory inside one call: cuDNN convolution workspaces (plus the KRSC copy of the weights
// for NHWC convolutions) and the per-block partial sums of the batch-norm / bias-gradient reductions.
//
// - Persistent: steady-state steps allocate nothing and kernels see stable addresses (CUDA graphs).
// - Per stream: work on one stream is ordered, so consecutive ops on a stream can share the buffer; ops on
//   different streams never race on it. Caveat (as for StreamScratch): a graph captured on stream A and
//   replayed on stream B uses A's buffer; do not run such ops on A concurrently with the replay.
// - Growth: a larger request replaces the buffer (geometric growth, so a stream reallocates O(log size)
//   times). The old buffer is returned to the caching allocator (stream-ordered: the compute stream first
//   waits for the stream's queued work) unless it was handed out while the stream was capturing a graph; such
//   buffers stay allocated until the context goes away, because the graph still addresses them.
// - The contents are undefined on every get(); a caller must take everything it needs in ONE get() per op
//   call (a second, larger get() in the same op would move the buffer under its earlier pointer).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <mutex>
#include <vector>

#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

class StreamWorkspace final : public ContextExtension {
 public:
  /// Smallest buffer handed out (small requests share it, so they never regrow it).
  static constexpr size_t kMinBytes = size_t{1} << 20;
  /// Alignment of every sub-buffer a caller carves out with align_up (cudnn / vector loads want 256).
  static constexpr size_t kAlign = 256;

  explicit StreamWorkspace(DeviceContext& context) : context_(context) {}
  ~StreamWorkspace() override;

  /// A buffer of at least n_bytes for work queued on `stream` (256-byte aligned; contents undefined).
  void* get(const Stream& stream, size_t n_bytes);
  /// Bytes currently held for `stream` (0 if none yet).
  size_t capacity(const Stream& stream) const;
  /// Number of times a buffer was (re)allocated, over all streams.
  int64_t n_allocations() const;

  static constexpr size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

 private:
  struct Entry {
    cudaStream_t stream;
    void* ptr;
    size_t bytes;
    bool used_in_capture;
  };
  struct Retired {
    void* ptr;
    size_t bytes;
  };
  DeviceContext& context_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::vector<Retired> retired_;
  int64_t n_allocations_ = 0;
};

}  // namespace sprint::cuda
