// workspace.cpp: cached buffers with batch-dimension views.
#include "sprint/nn/workspace.h"

#include "sprint/runtime/device_context.h"

namespace sprint::nn {

bool buffer_fits(const Tensor& cached, const Shape& shape, DType dtype, MemoryFormat format, Device device) {
  if (cached.dtype() != dtype || cached.device() != device || cached.ndim() != shape.size()) return false;
  if (shape.size() == 0) return true;
  for (int i = 1; i < shape.size(); ++i)
    if (cached.dim(i) != shape[i]) return false;
  if (cached.dim(0) < shape[0]) return false;
  return shape.size() != 4 || cached.memory_format() == format ||
         (format == MemoryFormat::kContiguous && cached.is_contiguous());
}

Tensor Workspace::get(const Stream& stream, BufferKey key, int id, const Shape& shape, DType dtype, MemoryFormat format) {
  const Device device = stream.device();
  for (Entry& e : entries_) {
    if (!(e.key == key) || e.id != id) continue;
    if (buffer_fits(e.tensor, shape, dtype, format, device)) {
      return shape.size() == 0 || e.tensor.dim(0) == shape[0] ? e.tensor : e.tensor.rows(0, shape[0]);
    }
    e.tensor = Tensor();  // free before allocating the larger one
    e.tensor = Tensor::empty(shape, dtype, stream.allocator(), format);
    return e.tensor;
  }
  entries_.push_back({key, id, Tensor::empty(shape, dtype, stream.allocator(), format)});
  return entries_.back().tensor;
}

}  // namespace sprint::nn
