// buffer_pool.h: BufferPool, the memory of one training step's layer outputs and input gradients, shared by all
// the layers of a model. A layer's output lives until the layers that saved it for backward have run their
// backward, an input gradient until the layer before has consumed it: keeping one buffer per layer (a Workspace
// entry) holds every one of them for the whole step, while the pool hands out a block that nobody holds any more,
// whatever shape it last had. Ownership is the Tensor handles themselves: a pooled block is free when the pool's
// handle is the only one left (storage use count 1), so it stays reserved exactly as long as some caller keeps it.
// Blocks are matched by size (the smallest free one that is large enough, and not more than about twice as
// large), so a layer's dead output serves the next layer's output or a gradient of another shape. The same sequence of requests finds the same blocks every
// step: steady-state steps allocate nothing. Stream order makes reuse safe on a device: every op of a training
// step runs on one compute stream.
#pragma once

#include <mutex>
#include <vector>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

class BufferPool {
 public:
  /// A tensor of `shape`, `dtype` and `format` on the stream's device over a block no one else holds: the
  /// smallest free pooled block that is large enough but at most twice the size (1 MiB more for small requests),
  /// else a new one. Contents are undefined, except that a
  /// channel-blocked tensor whose channels do not fill their last block has those padding channels at 0.
  Tensor acquire(const Stream& stream, const Shape& shape, DType dtype,
                 MemoryFormat format = MemoryFormat::kContiguous);
  /// Blocks the pool keeps, and their bytes.
  size_t size();
  int64_t bytes();
  /// Drops every block (handles held elsewhere stay valid).
  void clear();

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<Storage>> blocks_;
};

}  // namespace sprint::nn
