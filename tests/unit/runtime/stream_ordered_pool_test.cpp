// stream_ordered_pool_test.cpp: the CUDA caching allocator's policy on a fake device whose "streams" are
// counters of queued work and whose events complete when the test says the work has run: size classes, reuse
// per stream, split/merge, cross-stream blocks waiting for their events, deferral during graph capture, the
// out-of-memory path and its message.
#include "sprint/runtime/stream_ordered_pool.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "sprint/core/error.h"

namespace sprint {
namespace {

constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

/// A device with `capacity` bytes. A stream is any non-null pointer; each has a count of work items queued
/// (`queue`) and of items completed (`complete`). An event recorded on a stream is done once the stream's
/// completed count reaches the queued count at record time.
struct FakeDevice {
  size_t capacity = 64 * kMiB;
  size_t used = 0;
  std::map<void*, size_t> segments;
  std::map<void*, int> queued, completed;
  struct EventState {
    void* stream;
    int target;
  };
  std::map<int, EventState> events;
  int next_event = 1;
  int live_events = 0;
  std::set<void*> capturing;
  int synchronizations = 0;

  void queue(void* stream, int n = 1) { queued[stream] += n; }
  void run_all(void* stream) { completed[stream] = queued[stream]; }
};

class FakeMemory final : public DeviceMemory {
 public:
  explicit FakeMemory(FakeDevice& d) : d_(d) {}
  Device device() const override { return cuda_device(0); }
  void* malloc(size_t n) override {
    if (d_.used + n > d_.capacity) return nullptr;
    void* p = std::aligned_alloc(256, n);
    d_.used += n;
    d_.segments[p] = n;
    return p;
  }
  void free(void* p) noexcept override {
    d_.used -= d_.segments.at(p);
    d_.segments.erase(p);
    std::free(p);
  }
  void* record_event(void* stream) override {
    const int id = d_.next_event++;
    d_.events[id] = {stream, d_.queued[stream]};
    ++d_.live_events;
    return reinterpret_cast<void*>(static_cast<intptr_t>(id));
  }
  bool event_done(void* event) override {
    const FakeDevice::EventState& e = d_.events.at(static_cast<int>(reinterpret_cast<intptr_t>(event)));
    return d_.completed[e.stream] >= e.target;
  }
  void release_event(void* event) noexcept override {
    d_.events.erase(static_cast<int>(reinterpret_cast<intptr_t>(event)));
    --d_.live_events;
  }
  void synchronize() override {
    ++d_.synchronizations;
    for (auto& [s, n] : d_.queued) d_.completed[s] = n;
  }
  bool capturing(void* stream) override { return d_.capturing.count(stream) > 0; }
  void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept override {
    free_bytes = d_.capacity - d_.used;
    total_bytes = d_.capacity;
  }

 private:
  FakeDevice& d_;
};

class StreamOrderedPoolTest : public ::testing::Test {
 protected:
  FakeDevice device;
  std::unique_ptr<StreamOrderedPool> pool = std::make_unique<StreamOrderedPool>(std::make_unique<FakeMemory>(device));
  int tokens[3] = {};
  void* const a = &tokens[0];  // stream A (say, stage 0's stream)
  void* const b = &tokens[1];  // stream B
  void* const c = &tokens[2];  // stream C
};

TEST_F(StreamOrderedPoolTest, RoundsRequests) {
  EXPECT_EQ(StreamOrderedPool::round_size(0), 512u);
  EXPECT_EQ(StreamOrderedPool::round_size(1), 512u);
  EXPECT_EQ(StreamOrderedPool::round_size(512), 512u);
  EXPECT_EQ(StreamOrderedPool::round_size(513), 1024u);
  EXPECT_EQ(StreamOrderedPool::round_size(3 * kMiB + 1), 3 * kMiB + 512);
}

TEST_F(StreamOrderedPoolTest, ReusesAFreedBlockAtOnceOnItsOwnStream) {
  void* p = pool->allocate(1000, a);
  AllocatorStats s = pool->stats();
  EXPECT_EQ(s.allocated_bytes, 1024);
  EXPECT_EQ(s.reserved_bytes, static_cast<int64_t>(StreamOrderedPool::kSmallSegment));
  EXPECT_EQ(s.n_system_allocations, 1);
  device.queue(a);  // a kernel using p, still running: stream order makes reuse on A safe anyway
  pool->deallocate(p);
  EXPECT_EQ(pool->stats().allocated_bytes, 0);
  EXPECT_EQ(pool->allocate(900, a), p);
  EXPECT_EQ(pool->stats().n_system_allocations, 1);
  EXPECT_EQ(pool->stats().peak_allocated_bytes, 1024);
}

TEST_F(StreamOrderedPoolTest, NeverHandsAnotherStreamsFreeBlockToAStream) {
  void* p = pool->allocate(1000, a);
  pool->deallocate(p);
  void* q = pool->allocate(1000, b);
  EXPECT_NE(q, p);  // B gets a segment of its own; A's free block waits for A's work
  EXPECT_EQ(pool->n_segments(), 2);
  EXPECT_EQ(pool->allocate(1000, a), p);
}

TEST_F(StreamOrderedPoolTest, SplitsAndMergesWithinASegment) {
  void* x = pool->allocate(512 * kKiB, a);
  void* y = pool->allocate(512 * kKiB, a);
  void* z = pool->allocate(512 * kKiB, a);
  EXPECT_EQ(pool->n_segments(), 1);
  EXPECT_EQ(static_cast<char*>(y) - static_cast<char*>(x), static_cast<ptrdiff_t>(512 * kKiB));
  pool->deallocate(x);
  pool->deallocate(z);
  pool->deallocate(y);  // merges with both neighbours: the whole segment is one free block again
  EXPECT_EQ(pool->allocate(kMiB, a), x);
  EXPECT_EQ(pool->n_segments(), 1);
}

TEST_F(StreamOrderedPoolTest, LargeRequestsUseLargeSegments) {
  void* p = pool->allocate(3 * kMiB, a);
  EXPECT_EQ(pool->stats().reserved_bytes, static_cast<int64_t>(StreamOrderedPool::kLargeSegment));
  void* r = pool->allocate(12 * kMiB, a);  // fits in the rest of the first 20 MiB segment
  EXPECT_EQ(pool->n_segments(), 1);
  void* q = pool->allocate(30 * kMiB + 1, a);  // >= 10 MiB and no room: a segment of its own, rounded to 2 MiB
  EXPECT_EQ(pool->stats().reserved_bytes, static_cast<int64_t>(StreamOrderedPool::kLargeSegment + 32 * kMiB));
  pool->deallocate(r);
  pool->deallocate(p);
  pool->deallocate(q);
}

TEST_F(StreamOrderedPoolTest, ABlockAnotherStreamUsedWaitsForThatStreamsWork) {
  void* p = pool->allocate(4096, a);
  device.queue(b, 3);           // stage 1 reads the hand-off three times...
  pool->record_stream(p, b);
  pool->record_stream(p, b);    // recorded once
  pool->record_stream(p, a);    // its own stream: nothing to wait for
  pool->deallocate(p);
  EXPECT_EQ(pool->n_waiting_blocks(), 1);
  EXPECT_EQ(pool->stats().allocated_bytes, 4096);  // not reusable yet
  EXPECT_EQ(device.live_events, 1);
  void* q = pool->allocate(4096, a);
  EXPECT_NE(q, p);  // ...and has not finished: A must not overwrite p
  device.queue(b, 1);  // work queued after the release does not hold the block
  device.completed[b] = 3;
  void* r = pool->allocate(4096, a);
  EXPECT_EQ(r, p);
  EXPECT_EQ(pool->n_waiting_blocks(), 0);
  EXPECT_EQ(device.live_events, 0);
  pool->deallocate(q);
  pool->deallocate(r);
}

TEST_F(StreamOrderedPoolTest, WaitsForEveryUsingStream) {
  void* p = pool->allocate(4096, a);
  device.queue(b);
  device.queue(c);
  pool->record_stream(p, b);
  pool->record_stream(p, c);
  pool->deallocate(p);
  EXPECT_EQ(device.live_events, 2);
  device.run_all(b);
  void* q = pool->allocate(4096, a);
  EXPECT_NE(q, p);
  device.run_all(c);
  EXPECT_EQ(pool->allocate(4096, a), p);
  pool->deallocate(q);
}

TEST_F(StreamOrderedPoolTest, AFreeDuringACaptureRecordsItsEventsAfterTheCapture) {
  void* p = pool->allocate(4096, a);
  pool->record_stream(p, b);
  device.capturing.insert(b);
  device.queue(b);
  pool->deallocate(p);
  EXPECT_EQ(device.live_events, 0);  // an event recorded now would be a node of B's graph
  void* q = pool->allocate(4096, a);
  EXPECT_NE(q, p);
  device.capturing.clear();
  void* r = pool->allocate(4096, a);  // capture over: the event goes on B now, B still busy
  EXPECT_NE(r, p);
  EXPECT_EQ(device.live_events, 1);
  device.run_all(b);
  EXPECT_EQ(pool->allocate(4096, a), p);
  pool->deallocate(q);
  pool->deallocate(r);
}

TEST_F(StreamOrderedPoolTest, ReleaseCachedWaitsForTheDeviceAndFreesWholeSegments) {
  void* p = pool->allocate(4096, a);
  void* q = pool->allocate(4096, b);
  pool->record_stream(p, b);
  device.queue(b);
  pool->deallocate(p);
  pool->release_cached();
  EXPECT_EQ(device.synchronizations, 1);
  EXPECT_EQ(pool->n_waiting_blocks(), 0);
  EXPECT_EQ(pool->n_segments(), 1);  // A's segment released; B's holds q
  EXPECT_EQ(pool->stats().reserved_bytes, static_cast<int64_t>(StreamOrderedPool::kSmallSegment));
  pool->deallocate(q);
  pool->release_cached();
  EXPECT_EQ(pool->stats().reserved_bytes, 0);
  EXPECT_EQ(device.used, 0u);
}

TEST_F(StreamOrderedPoolTest, NoReleaseWhileAStreamCaptures) {
  pool->deallocate(pool->allocate(4096, a));
  device.capturing.insert(a);
  pool->release_cached();
  EXPECT_EQ(pool->n_segments(), 1);
  EXPECT_EQ(device.synchronizations, 0);
}

TEST_F(StreamOrderedPoolTest, OutOfMemoryFirstReturnsOtherStreamsCachedSegments) {
  device.capacity = 24 * kMiB;
  void* p = pool->allocate(5 * kMiB, a);  // one 20 MiB large segment for A
  pool->deallocate(p);
  void* q = pool->allocate(5 * kMiB, b);  // no room for B's own segment: A's cached one goes back first
  EXPECT_NE(q, nullptr);
  EXPECT_EQ(device.synchronizations, 1);
  EXPECT_EQ(pool->n_segments(), 1);
  pool->deallocate(q);
}

TEST_F(StreamOrderedPoolTest, OutOfMemoryNamesTheRequestAndTheStatistics) {
  device.capacity = 24 * kMiB;
  void* p = pool->allocate(5 * kMiB, a);
  try {
    (void)pool->allocate(100 * kMiB, a);
    FAIL() << "expected OutOfMemory";
  } catch (const OutOfMemory& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("CUDA out of memory on cuda:0: tried to allocate 100.0 MiB"), std::string::npos) << msg;
    EXPECT_NE(msg.find("20.0 MiB reserved, 24.0 MiB total"), std::string::npos) << msg;
  }
  pool->set_memory_limit(22 * kMiB);
  EXPECT_THROW((void)pool->allocate(5 * kMiB, b), OutOfMemory);
  pool->deallocate(p);
  EXPECT_THROW((void)pool->allocate(size_t{1} << 62, a), OutOfMemory);
}

TEST_F(StreamOrderedPoolTest, UnknownPointersAreRefusedOrIgnored) {
  int x = 0;
  EXPECT_THROW(pool->record_stream(&x, b), Error);
  pool->deallocate(&x);  // reported, ignored
  pool->deallocate(nullptr);
  EXPECT_EQ(pool->stats().allocated_bytes, 0);
}

TEST_F(StreamOrderedPoolTest, DestructionFreesEverySegmentAndEvent) {
  void* p = pool->allocate(4096, a);
  pool->record_stream(p, b);
  device.queue(b);
  pool->deallocate(p);
  (void)pool->allocate(3 * kMiB, c);  // still handed out: reported
  pool.reset();
  EXPECT_EQ(device.used, 0u);
  EXPECT_EQ(device.live_events, 0);
  EXPECT_EQ(device.synchronizations, 1);
}

}  // namespace
}  // namespace sprint
