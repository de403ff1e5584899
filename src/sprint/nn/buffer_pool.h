// buffer_pool.h: BufferPool, gradient buffers shared by all the layers of a model during backward. A layer's
// input gradient is dead once the layer before it has produced its own, so keeping one buffer per layer (a
// Workspace entry) holds the whole backward pass in memory at once; the pool hands out a buffer that nobody holds
// any more instead. Ownership is the Tensor handles themselves: a pooled buffer is free when the pool's handle is
// the only one left (storage use count 1), so a gradient stays reserved exactly as long as some caller keeps it.
// The same sequence of requests finds the same buffers every step: steady-state steps allocate nothing.
// Stream order makes reuse safe on a device: every op of a training step runs on one compute stream.
#pragma once

#include <mutex>
#include <vector>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

class BufferPool {
 public:
  /// A tensor of `shape` on the stream's device that no one else holds: a free pooled buffer that fits (same
  /// dtype, format and trailing dimensions, at least as many rows; a view of its first rows), else a new one.
  /// Contents are undefined.
  Tensor acquire(const Stream& stream, const Shape& shape, DType dtype,
                 MemoryFormat format = MemoryFormat::kContiguous);
  /// Buffers the pool keeps, and their bytes.
  size_t size();
  int64_t bytes();
  /// Drops every buffer (handles held elsewhere stay valid).
  void clear();

 private:
  std::mutex mutex_;
  std::vector<Tensor> buffers_;
};

}  // namespace sprint::nn
