// buffer_pool.cpp: BufferPool (best fit by size among the blocks no one else holds).
#include "sprint/nn/buffer_pool.h"

#include <cstring>

#include "sprint/runtime/device_context.h"

namespace sprint::nn {
namespace {
// A free block serves a request of at least 1/kMaxSlack of its size (plus kSmallBytes, so that small tensors
// share small blocks freely): a small tensor in a large block would hold that memory while a later large request
// allocates again.
constexpr size_t kMaxSlack = 2;
constexpr size_t kSmallBytes = size_t{1} << 20;

// Channel-blocked with a partly filled last block: ops read and keep the padding channels at 0.
bool has_padding_channels(const Shape& shape, MemoryFormat format) {
  const int64_t block = channel_block(format);
  return block != 0 && shape.size() == 4 && shape[1] % block != 0;
}
}  // namespace

Tensor BufferPool::acquire(const Stream& stream, const Shape& shape, DType dtype, MemoryFormat format) {
  const size_t bytes = Tensor::bytes_for(shape, dtype, format);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::shared_ptr<Storage>* best = nullptr;
  for (const std::shared_ptr<Storage>& block : blocks_) {
    if (block.use_count() != 1 || block->device() != stream.device() || block->n_bytes() < bytes) continue;
    if (block->n_bytes() > kMaxSlack * bytes + kSmallBytes) continue;  // would strand most of a large block
    if (best == nullptr || block->n_bytes() < (*best)->n_bytes()) best = &block;
  }
  if (best == nullptr) {
    Tensor fresh = Tensor::empty(shape, dtype, stream.allocator(), format);  // blocked: zero-filled
    blocks_.push_back(fresh.storage());
    return fresh;
  }
  Tensor t = Tensor::over(*best, shape, dtype, format);
  if (has_padding_channels(shape, format) && bytes > 0) std::memset(t.data(), 0, bytes);  // blocked: host memory
  return t;
}

size_t BufferPool::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return blocks_.size();
}

int64_t BufferPool::bytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t total = 0;
  for (const std::shared_ptr<Storage>& block : blocks_) total += static_cast<int64_t>(block->n_bytes());
  return total;
}

void BufferPool::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  blocks_.clear();
}

}  // namespace sprint::nn
