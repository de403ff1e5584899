// buffer_pool.cpp: BufferPool (first fit among the buffers no one else holds).
#include "sprint/nn/buffer_pool.h"

#include "sprint/nn/workspace.h"
#include "sprint/runtime/device_context.h"

namespace sprint::nn {

Tensor BufferPool::acquire(const Stream& stream, const Shape& shape, DType dtype, MemoryFormat format) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Tensor& b : buffers_) {
    if (b.storage().use_count() != 1 || !buffer_fits(b, shape, dtype, format, stream.device())) continue;
    return shape.size() == 0 || b.dim(0) == shape[0] ? b : b.rows(0, shape[0]);
  }
  buffers_.push_back(Tensor::empty(shape, dtype, stream.context().allocator(), format));
  return buffers_.back();
}

size_t BufferPool::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return buffers_.size();
}

int64_t BufferPool::bytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t total = 0;
  for (const Tensor& b : buffers_) total += static_cast<int64_t>(b.n_bytes());
  return total;
}

void BufferPool::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  buffers_.clear();
}

}  // namespace sprint::nn
