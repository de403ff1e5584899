// scratch.h (CUDA backend): StreamScratch, small persistent per-stream device buffers owned by a context
// extension. Kernels that reduce across blocks (the losses) write their per-block partial sums here instead
// of allocating a temporary per call: no allocation in steady state, stable addresses for CUDA graphs, and no
// race between streams (each stream has its own buffer; work on one stream is ordered). Caveat: a graph
// captured on stream A and replayed on stream B uses A's buffer; do not run loss kernels on A concurrently
// with such a replay.
#pragma once

#include <cuda_runtime_api.h>

#include <mutex>
#include <vector>

#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

class StreamScratch final : public ContextExtension {
 public:
  /// Doubles per stream: the most blocks a cross-block reduction may use.
  static constexpr int kCapacity = 1024;

  explicit StreamScratch(DeviceContext& context) : context_(context) {}
  ~StreamScratch() override;

  /// The buffer of kCapacity doubles for `stream`, allocated on first use (contents undefined).
  double* partials(const Stream& stream);

 private:
  struct Entry {
    cudaStream_t stream;
    void* buffer;
  };
  DeviceContext& context_;
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace sprint::cuda
