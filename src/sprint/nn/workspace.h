// workspace.h: per-module cache of output and scratch tensors, keyed by (BufferKey, id). A request for a smaller
// batch returns a view of the cached tensor, a larger one reallocates: steady-state steps allocate nothing, and
// a short last batch reuses the full-size buffer.
#pragma once

#include <vector>

#include "sprint/core/tensor.h"
#include "sprint/nn/buffer_key.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

/// True when `cached` can serve a request for `shape` (its first rows): same dtype, device, trailing dimensions
/// and (4-D) memory format, and at least shape[0] rows.
bool buffer_fits(const Tensor& cached, const Shape& shape, DType dtype, MemoryFormat format, Device device);

class Workspace {
 public:
  /// A tensor of `shape` (dimension 0 = batch) on the stream's device; contents are undefined.
  Tensor get(const Stream& stream, BufferKey key, int id, const Shape& shape, DType dtype,
             MemoryFormat format = MemoryFormat::kContiguous);
  /// Frees every cached tensor (e.g. after moving a module to another device).
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    BufferKey key;
    int id;
    Tensor tensor;  // full-capacity tensor
  };
  std::vector<Entry> entries_;
};

}  // namespace sprint::nn
