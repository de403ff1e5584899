// stream_ordered_pool.cpp: segments from the device, carved into blocks kept in per-stream best-fit pools.
//
// Data structures (all guarded by one mutex):
//   Block     one contiguous range of a segment; blocks of a segment form a doubly linked list in address order
//             (prev/next), so freeing can merge with free neighbours. The first block of a segment (prev == null)
//             is never deleted while the segment exists: merges always keep the lower-address block object.
//   free_     per size class, free blocks ordered by (stream, size, address): lower_bound is the best fit of a
//             stream.
//   live_     address -> block for blocks handed out.
//   waiting_  blocks the host freed that other streams' work may still use, with the events that end it.
//   heads_    first blocks of all segments (to release or destroy them).
#include "sprint/runtime/stream_ordered_pool.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sprint/core/error.h"
#include "sprint/core/log.h"

namespace sprint {
namespace {

struct Block {
  char* ptr = nullptr;
  size_t size = 0;
  bool allocated = false;  // handed out or waiting for other streams: not mergeable
  bool small = false;
  void* stream = nullptr;  // the stream the segment belongs to
  Block* prev = nullptr;   // neighbour at lower address in the same segment
  Block* next = nullptr;   // neighbour at higher address in the same segment
  std::vector<void*> uses;  // other streams whose work used the block while it was handed out
};

struct ByStreamSizeAddress {
  bool operator()(const Block* a, const Block* b) const {
    if (a->stream != b->stream) return std::less<void*>()(a->stream, b->stream);
    if (a->size != b->size) return a->size < b->size;
    return std::less<char*>()(a->ptr, b->ptr);
  }
};

/// A freed block and the events, one per using stream, after which it is reusable. `recorded` is false while a
/// using stream captured a graph at free time: the events are recorded once the capture has ended.
struct Waiting {
  Block* block = nullptr;
  std::vector<void*> events;
  bool recorded = false;
};

constexpr size_t kLargeSegmentThreshold = size_t{10} << 20;  // requests below this share 20 MiB segments

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

struct StreamOrderedPool::Impl {
  std::unique_ptr<DeviceMemory> memory;
  mutable std::mutex mutex;
  std::set<Block*, ByStreamSizeAddress> free_small, free_large;
  std::unordered_map<void*, Block*> live;
  std::vector<Waiting> waiting;
  std::unordered_set<Block*> heads;
  std::set<void*> streams;  // every stream seen, for the capture check
  int64_t reserved = 0;     // mirrors counters' reserved bytes, for the limit check under the mutex
  size_t limit = 0;
  AllocatorCounters counters;

  std::set<Block*, ByStreamSizeAddress>& pool(bool small) { return small ? free_small : free_large; }

  static size_t segment_size(size_t rounded) {
    if (rounded <= kSmallRequest) return kSmallSegment;
    if (rounded < kLargeSegmentThreshold) return kLargeSegment;
    return round_up(rounded, kLargeRound);
  }

  // Best-fit free block of `stream` of at least `size`, removed from the pool; null when none.
  Block* take_free(size_t size, bool small, void* stream) {
    auto& p = pool(small);
    Block key;
    key.size = size;
    key.stream = stream;
    auto it = p.lower_bound(&key);
    if (it == p.end() || (*it)->stream != stream) return nullptr;
    Block* b = *it;
    p.erase(it);
    return b;
  }

  char* malloc_segment(size_t size) {
    if (limit != 0 && static_cast<size_t>(reserved) + size > limit) return nullptr;
    return static_cast<char*>(memory->malloc(size));
  }

  bool any_capturing() const {
    return std::any_of(streams.begin(), streams.end(), [&](void* s) { return memory->capturing(s); });
  }

  // Returns a block to its stream's pool, merged with free neighbours.
  void free_block(Block* block) {
    block->allocated = false;
    block->uses.clear();
    counters.on_deallocate(static_cast<int64_t>(block->size), 0);
    auto& p = pool(block->small);
    if (Block* prev = block->prev; prev != nullptr && !prev->allocated) {
      p.erase(prev);
      prev->size += block->size;
      prev->next = block->next;
      if (block->next) block->next->prev = prev;
      delete block;
      block = prev;
    }
    if (Block* next = block->next; next != nullptr && !next->allocated) {
      p.erase(next);
      block->size += next->size;
      block->next = next->next;
      if (next->next) next->next->prev = block;
      delete next;
    }
    p.insert(block);
  }

  // Records the events of a waiting block unless one of its using streams captures a graph now.
  void record_events(Waiting& w) {
    for (void* s : w.block->uses)
      if (memory->capturing(s)) return;
    for (void* s : w.block->uses) w.events.push_back(memory->record_event(s));
    w.recorded = true;
  }

  // Returns every waiting block whose events have completed to its pool. `all_done`: the device was just
  // synchronised, so every recorded event has completed.
  void process_waiting(bool all_done) {
    if (waiting.empty()) return;
    if (!all_done && any_capturing()) return;  // no event queries while a graph is captured
    std::vector<Waiting> still;
    for (Waiting& w : waiting) {
      if (!w.recorded) {
        if (all_done) {
          w.recorded = true;  // nothing is queued any more: no events needed
        } else {
          record_events(w);
          still.push_back(std::move(w));
          continue;
        }
      }
      const bool done = all_done || std::all_of(w.events.begin(), w.events.end(),
                                                [&](void* e) { return memory->event_done(e); });
      if (!done) {
        still.push_back(std::move(w));
        continue;
      }
      for (void* e : w.events) memory->release_event(e);
      free_block(w.block);
    }
    waiting = std::move(still);
  }

  // Frees every segment that is one free block, after waiting for the device. Returns the bytes released.
  int64_t release_cached_locked() {
    if (any_capturing()) {
      log_warn("{}: not releasing cached memory while a stream captures a graph", device_name(memory->device()));
      return 0;
    }
    memory->synchronize();  // cached blocks may still be used by queued work (stream-ordered reuse)
    process_waiting(/*all_done=*/true);
    std::vector<Block*> victims;
    for (auto* p : {&free_small, &free_large})
      for (Block* b : *p)
        if (b->prev == nullptr && b->next == nullptr) victims.push_back(b);
    int64_t released = 0;
    for (Block* b : victims) {
      pool(b->small).erase(b);
      heads.erase(b);
      memory->free(b->ptr);
      reserved -= static_cast<int64_t>(b->size);
      counters.on_deallocate(0, static_cast<int64_t>(b->size));
      released += static_cast<int64_t>(b->size);
      delete b;
    }
    return released;
  }

  Block* find_live(void* ptr) const {
    auto it = live.find(ptr);
    return it == live.end() ? nullptr : it->second;
  }

  [[noreturn]] void throw_out_of_memory(size_t requested) const {
    const AllocatorStats s = counters.snapshot();
    size_t free_bytes = 0, total_bytes = 0;
    memory->memory_info(free_bytes, total_bytes);
    const Device device = memory->device();
    const std::string limit_note =
        limit != 0 ? fmt::format(" (sprint memory limit {})", format_bytes(static_cast<int64_t>(limit))) : "";
    SPRINT_THROW(OutOfMemory,
                 "{}out of memory on {}: tried to allocate {}; {} allocated, {} reserved, {} total{}; {} free on the "
                 "device. Reduce the batch size or the model, or free tensors that are no longer needed.",
                 device.is_cuda() ? "CUDA " : "", device_name(device),
                 format_bytes(static_cast<int64_t>(std::min<size_t>(requested, std::numeric_limits<int64_t>::max()))),
                 format_bytes(s.allocated_bytes), format_bytes(s.reserved_bytes),
                 format_bytes(static_cast<int64_t>(total_bytes)), limit_note,
                 format_bytes(static_cast<int64_t>(free_bytes)));
  }
};

StreamOrderedPool::StreamOrderedPool(std::unique_ptr<DeviceMemory> memory) : impl_(std::make_unique<Impl>()) {
  SPRINT_CHECK(memory != nullptr, "StreamOrderedPool needs a device");
  impl_->memory = std::move(memory);
}

StreamOrderedPool::~StreamOrderedPool() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  if (!m.live.empty())
    log_warn("{}: {} device blocks still in use when the allocator was destroyed", device_name(m.memory->device()),
             m.live.size());
  if (m.heads.empty()) return;
  try {
    m.memory->synchronize();
  } catch (const std::exception& e) {
    log_message(LogLevel::kError, fmt::format("{}: {}", device_name(m.memory->device()), e.what()));
  }
  for (Waiting& w : m.waiting)
    for (void* e : w.events) m.memory->release_event(e);
  for (Block* head : m.heads) {
    m.memory->free(head->ptr);
    for (Block* b = head; b != nullptr;) {
      Block* next = b->next;
      delete b;
      b = next;
    }
  }
}

Device StreamOrderedPool::device() const { return impl_->memory->device(); }

size_t StreamOrderedPool::round_size(size_t n_bytes) {
  if (n_bytes == 0) return kMinBlock;
  return round_up(n_bytes, kMinBlock);
}

void* StreamOrderedPool::allocate(size_t n_bytes, void* stream) {
  Impl& m = *impl_;
  // Requests this large cannot be rounded without overflow and can never succeed.
  if (n_bytes > std::numeric_limits<size_t>::max() / 4) m.throw_out_of_memory(n_bytes);
  const size_t size = round_size(n_bytes);
  const bool small = size <= kSmallRequest;

  std::lock_guard<std::mutex> lock(m.mutex);
  m.streams.insert(stream);
  m.process_waiting(/*all_done=*/false);
  bool from_system = false;
  int64_t reserved_delta = 0;
  Block* block = m.take_free(size, small, stream);
  if (block == nullptr) {
    const size_t seg = Impl::segment_size(size);
    char* ptr = m.malloc_segment(seg);
    if (ptr == nullptr) {
      // Cached segments of any stream, or blocks waiting for other streams, may be what stands in the way.
      m.release_cached_locked();
      block = m.take_free(size, small, stream);
      if (block == nullptr) ptr = m.malloc_segment(seg);
      if (block == nullptr && ptr == nullptr) m.throw_out_of_memory(n_bytes);
    }
    if (block == nullptr) {
      block = new Block();
      block->ptr = ptr;
      block->size = seg;
      block->small = small;
      block->stream = stream;
      m.heads.insert(block);
      m.reserved += static_cast<int64_t>(seg);
      from_system = true;
      reserved_delta = static_cast<int64_t>(seg);
    }
  }
  // Split off the remainder when it is worth keeping as a separate free block.
  const size_t remaining = block->size - size;
  if (small ? remaining >= kMinBlock : remaining > kSmallRequest) {
    Block* rest = new Block();
    rest->ptr = block->ptr + size;
    rest->size = remaining;
    rest->small = block->small;
    rest->stream = block->stream;
    rest->prev = block;
    rest->next = block->next;
    if (block->next) block->next->prev = rest;
    block->next = rest;
    block->size = size;
    m.pool(rest->small).insert(rest);
  }
  block->allocated = true;
  m.live.emplace(block->ptr, block);
  m.counters.on_allocate(static_cast<int64_t>(block->size), from_system, reserved_delta);
  return block->ptr;
}

void StreamOrderedPool::deallocate(void* ptr) noexcept {
  if (ptr == nullptr) return;
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  Block* block = m.find_live(ptr);
  if (block == nullptr) {
    log_message(LogLevel::kError, fmt::format("{}: deallocate of {} that this allocator did not hand out",
                                              device_name(m.memory->device()), ptr));
    return;
  }
  m.live.erase(ptr);
  if (block->uses.empty()) {
    m.free_block(block);
    return;
  }
  Waiting& w = m.waiting.emplace_back();
  w.block = block;
  try {
    m.record_events(w);
  } catch (const std::exception& e) {
    // No events yet: the block keeps waiting; later allocations try to record them again, and release_cached()
    // (or running out of memory) frees it after synchronising the device.
    log_message(LogLevel::kError, fmt::format("{}: {}", device_name(m.memory->device()), e.what()));
    for (void* ev : w.events) m.memory->release_event(ev);
    w.events.clear();
    w.recorded = false;
  }
}

void StreamOrderedPool::record_stream(void* ptr, void* stream) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mutex);
  Block* block = m.find_live(ptr);
  SPRINT_CHECK(block != nullptr, "{}: record_stream of {}, which this allocator did not hand out",
               device_name(m.memory->device()), ptr);
  if (stream == block->stream) return;
  if (std::find(block->uses.begin(), block->uses.end(), stream) == block->uses.end()) block->uses.push_back(stream);
  m.streams.insert(stream);
}

AllocatorStats StreamOrderedPool::stats() const { return impl_->counters.snapshot(); }

void StreamOrderedPool::reset_peak_stats() { impl_->counters.reset_peaks(); }

void StreamOrderedPool::release_cached() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->release_cached_locked();
}

int64_t StreamOrderedPool::cached_bytes() const {
  const AllocatorStats s = impl_->counters.snapshot();
  return s.reserved_bytes - s.allocated_bytes;
}

int64_t StreamOrderedPool::n_segments() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<int64_t>(impl_->heads.size());
}

int64_t StreamOrderedPool::n_waiting_blocks() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<int64_t>(impl_->waiting.size());
}

void StreamOrderedPool::set_memory_limit(size_t n_bytes) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->limit = n_bytes;
}

}  // namespace sprint
