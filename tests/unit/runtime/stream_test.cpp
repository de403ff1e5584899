// stream_test.cpp: events across devices (a recording fake GPU context beside the CPU context) and
// record_stream on host tensors.
#include "sprint/runtime/stream.h"

#include <gtest/gtest.h>

#include <vector>

#include "sprint/core/error.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/device_registry.h"

namespace sprint {
namespace {

/// A "GPU" whose streams and events only log what was asked of them.
class RecordingGpuContext final : public DeviceContext {
 public:
  explicit RecordingGpuContext(int index) : index_(index) {}
  ~RecordingGpuContext() override { destroy_extensions(); }
  Device device() const override { return cuda_device(index_); }
  Allocator& allocator() override { return cpu_allocator(); }
  Allocator& host_allocator() override { return cpu_allocator(); }
  Stream compute_stream() override { return Stream(this, &stream_token_); }
  Stream copy_stream() override { return compute_stream(); }
  void synchronize(const Stream&) override {}
  void stream_wait(const Stream&, const Stream&) override {}
  void copy_bytes(const Stream&, void*, const void*, size_t, CopyKind) override {}
  void* event_create(bool) override { return &event_token_; }
  void event_destroy(void*) noexcept override {}
  void event_record(void*, const Stream&) override { log.push_back("record"); }
  void event_block(void* event, const Stream& stream) override {
    log.push_back(event == &event_token_ ? "block own event" : "block other event");
    EXPECT_EQ(&stream.context(), this);
  }
  void event_synchronize(void*) override { log.push_back("host wait"); }
  bool event_ready(void*) override { return true; }
  float event_elapsed_ms(void*, void*) override { return 0; }

  std::vector<const char*> log;

 private:
  int index_;
  int stream_token_ = 0, event_token_ = 0;
};

TEST(Event, AGpuStreamWaitsOnTheDeviceForAnotherGpusEvent) {
  RecordingGpuContext gpu0(0), gpu1(1);
  Event done(gpu0);
  done.record(gpu0.compute_stream());
  done.block(gpu1.compute_stream());
  EXPECT_EQ(gpu0.log, (std::vector<const char*>{"record"}));
  EXPECT_EQ(gpu1.log, (std::vector<const char*>{"block other event"}));  // cudaStreamWaitEvent on gpu1's stream
  done.block(gpu0.compute_stream());
  EXPECT_EQ(gpu0.log.back(), std::string("block own event"));
}

TEST(Event, HostWorkWaitsOnTheHostForAGpuEvent) {
  RecordingGpuContext gpu(0);
  Event done(gpu);
  done.record(gpu.compute_stream());
  done.block(cpu_context().compute_stream());
  EXPECT_EQ(gpu.log, (std::vector<const char*>{"record", "host wait"}));
}

TEST(Event, AHostEventMakesNoGpuStreamWait) {
  RecordingGpuContext gpu(0);
  Event done(cpu_context());
  done.record(cpu_context().compute_stream());
  done.block(gpu.compute_stream());
  EXPECT_TRUE(gpu.log.empty());
  EXPECT_TRUE(done.ready());
}

TEST(Event, RecordingOnAnotherDevicesStreamIsRefused) {
  RecordingGpuContext gpu(0);
  Event done(gpu);
  EXPECT_THROW(done.record(cpu_context().compute_stream()), Error);
  Event invalid;
  EXPECT_THROW(invalid.block(gpu.compute_stream()), Error);
}

TEST(RecordStream, IsANoOpForHostMemoryAndUndefinedTensors) {
  Tensor t = Tensor::empty(Shape{4}, DType::kF32);
  EXPECT_NO_THROW(record_stream(t, cpu_context().compute_stream()));
  EXPECT_NO_THROW(record_stream(Tensor(), cpu_context().compute_stream()));
  RecordingGpuContext gpu(0);
  EXPECT_THROW(record_stream(t, gpu.compute_stream()), Error);  // a host tensor is no GPU stream's
}

}  // namespace
}  // namespace sprint
