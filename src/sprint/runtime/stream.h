// stream.h: Stream, an ordered queue of work on one device, and Event, a marker recorded on a stream.
// Every op takes the stream it runs on. On the CPU work runs synchronously on the calling thread (the stream
// handle is null); on CUDA the handle is a cudaStream_t owned by the device context.
#pragma once

#include "sprint/core/device.h"

namespace sprint {

class Allocator;
class DeviceContext;
class Tensor;

class Stream {
 public:
  Stream() = default;
  Stream(DeviceContext* context, void* native_handle) : context_(context), native_(native_handle) {}

  bool valid() const { return context_ != nullptr; }
  Device device() const;
  DeviceContext& context() const;
  /// cudaStream_t on CUDA devices, nullptr on the CPU.
  void* native_handle() const { return native_; }
  /// The allocator for tensors this stream's work produces (DeviceContext::stream_allocator): where memory is
  /// stream-ordered, their blocks are reused only by this stream's later work.
  Allocator& allocator() const;
  /// Blocks the calling thread until all work queued on this stream has finished.
  void synchronize() const;
  /// Makes all future work on this stream wait for the work queued on `other` so far (no host block; `other`
  /// may be a stream of another device: a GPU waits for another GPU on the device, host work for a GPU on the
  /// host).
  void wait_for(const Stream& other) const;

  friend bool operator==(const Stream& a, const Stream& b) {
    return a.context_ == b.context_ && a.native_ == b.native_;
  }

 private:
  DeviceContext* context_ = nullptr;
  void* native_ = nullptr;
};

/// A point in a stream's work. On the CPU every event is complete as soon as it is recorded.
/// Move-only; owns its native handle (cudaEvent_t on CUDA).
class Event {
 public:
  Event() = default;
  /// Creates an event on `context`'s device; `timing` enables elapsed_ms().
  explicit Event(DeviceContext& context, bool timing = false);
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool valid() const { return context_ != nullptr; }
  /// Marks the current end of `stream`'s queue.
  void record(const Stream& stream);
  /// Makes `stream` wait (on the device, no host block) until the recorded work has finished. `stream` may belong
  /// to another device: a GPU stream waits for another GPU's event on the device, host work waits for a GPU's
  /// event on the host, and a host event never makes anything wait (it completed when recorded).
  void block(const Stream& stream) const;
  /// Blocks the host until the recorded work has finished.
  void synchronize() const;
  /// True when the recorded work has finished.
  bool ready() const;
  /// Milliseconds between `start` and this event (both recorded with timing enabled; synchronises).
  float elapsed_ms_since(const Event& start) const;
  void* native_handle() const { return native_; }

 private:
  DeviceContext* context_ = nullptr;
  void* native_ = nullptr;
};

/// Tells the allocator of `tensor` that work queued on `stream` so far and from now on uses its memory (PyTorch's
/// recordStream): when the tensor is released, the memory is reused only after that work has finished. Needed for
/// a tensor allocated for one stream and read or written by another (a pipeline hand-off, a side-stream
/// all-reduce) unless that stream's work is joined back first. No-op for host memory and undefined tensors.
void record_stream(const Tensor& tensor, const Stream& stream);

}  // namespace sprint
