// stream.h: Stream, an ordered queue of work on one device, and Event, a marker recorded on a stream.
// Every op takes the stream it runs on. On the CPU work runs synchronously on the calling thread (the stream
// handle is null); on CUDA the handle is a cudaStream_t owned by the device context.
#pragma once

#include "sprint/core/device.h"

namespace sprint {

class DeviceContext;

class Stream {
 public:
  Stream() = default;
  Stream(DeviceContext* context, void* native_handle) : context_(context), native_(native_handle) {}

  bool valid() const { return context_ != nullptr; }
  Device device() const;
  DeviceContext& context() const;
  /// cudaStream_t on CUDA devices, nullptr on the CPU.
  void* native_handle() const { return native_; }
  /// Blocks the calling thread until all work queued on this stream has finished.
  void synchronize() const;
  /// Makes all future work on this stream wait for the work queued on `other` so far (no host block).
  void wait_for(const Stream& other) const;

  friend bool operator==(const Stream& a, const Stream& b) {
    return a.context_ == b.context_ && a.native_ == b.native_;
  }

 private:
  DeviceContext* context_ = nullptr;
  void* native_ = nullptr;
};

}  // namespace sprint
