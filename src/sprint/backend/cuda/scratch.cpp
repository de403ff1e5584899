// scratch.cpp: per-stream persistent reduction buffers.
#include "sprint/backend/cuda/scratch.h"

#include "sprint/backend/cuda/common.h"

namespace sprint::cuda {

StreamScratch::~StreamScratch() {
  for (const Entry& e : entries_) context_.allocator().deallocate(e.buffer, kCapacity * sizeof(double));
}

double* StreamScratch::partials(const Stream& stream) {
  const cudaStream_t native = stream_of(stream);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Entry& e : entries_)
    if (e.stream == native) return static_cast<double*>(e.buffer);
  entries_.reserve(entries_.size() + 1);
  void* buffer = context_.allocator().allocate(kCapacity * sizeof(double));
  entries_.push_back({native, buffer});
  // The allocator is stream-ordered on the compute stream: the block's previous owner may still be in use there.
  order_after_compute_stream(stream);
  return static_cast<double*>(buffer);
}

}  // namespace sprint::cuda
