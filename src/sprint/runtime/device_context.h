// device_context.h: DeviceContext, the per-device object that owns the allocator, the streams and (through
// extensions) the vendor library handles: oneDNN engine, cuBLASLt/cuDNN handles, algorithm caches. No globals:
// kernels reach handles only through the stream they are given.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "sprint/core/allocator.h"
#include "sprint/core/device.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// Base of per-context state that a backend attaches lazily (see DeviceContext::extension).
class ContextExtension {
 public:
  virtual ~ContextExtension() = default;
};

namespace detail {
int next_extension_slot();
template <class T>
int extension_slot() {
  static const int slot = next_extension_slot();
  return slot;
}
}  // namespace detail

/// kDeviceToDevice: within one GPU; kPeer: between two GPUs (either one's stream may run it).
enum class CopyKind { kHostToDevice, kDeviceToHost, kDeviceToDevice, kPeer, kHostToHost };

/// How far a context's floating-point results may move for speed; read by the backends when they choose library
/// algorithms (cuBLASLt, cuDNN). The CPU backend has no TF32 and is deterministic under either setting.
struct Numerics {
  /// f32 matrix products and convolutions may run on TF32 tensor cores (10-bit mantissa inputs). Off: f32 stays
  /// f32 (FMA units), as PyTorch with allow_tf32 = False.
  bool allow_tf32 = false;
  /// Only algorithms that give the same bits for the same inputs, run to run (cuDNN's CUDNN_DETERMINISTIC). Where
  /// a problem has none, the backend uses a non-deterministic one and warns once for that problem.
  bool deterministic = true;
};

class DeviceContext {
 public:
  virtual ~DeviceContext();

  virtual Device device() const = 0;
  /// Allocator for tensors on this device, used by work on the compute stream.
  virtual Allocator& allocator() = 0;
  /// Allocator for tensors that work on `stream` (a stream of this context) produces and uses: where memory is
  /// stream-ordered (CUDA), a freed block is reused at once only by later work on that stream. A tensor that
  /// other streams use as well is marked with record_stream(tensor, other). The one allocator on the CPU.
  virtual Allocator& stream_allocator(const Stream& stream) {
    (void)stream;
    return allocator();
  }
  /// Allocator for host memory that this device copies from/to fastest (pinned on CUDA; plain on the CPU).
  virtual Allocator& host_allocator() = 0;
  /// The stream ops run on unless told otherwise.
  virtual Stream compute_stream() = 0;
  /// A second stream for host<->device copies that overlap compute (the compute stream on the CPU).
  virtual Stream copy_stream() = 0;
  /// A further stream owned by the context (destroyed with it), for work that may overlap the compute stream's
  /// (a pipeline stage, a side-stream all-reduce). The CPU runs all work synchronously on the calling thread:
  /// there it is the compute stream.
  virtual Stream create_stream() { return compute_stream(); }
  virtual void synchronize(const Stream& stream) = 0;
  virtual void stream_wait(const Stream& waiting, const Stream& other) = 0;
  /// Copies n_bytes asynchronously on `stream` (synchronously on the CPU). Pointers are raw device/host memory.
  virtual void copy_bytes(const Stream& stream, void* dst, const void* src, size_t n_bytes, CopyKind kind) = 0;
  /// True while work queued on `stream` is being captured into a CUDA graph (never on the CPU): host-side
  /// writes then reach no replay, so per-step values must already live in device memory.
  virtual bool is_capturing(const Stream& stream) { return false; }

  // Events (see Event in stream.h). The CPU implementation is trivial: work is complete when recorded.
  virtual void* event_create(bool timing) = 0;
  virtual void event_destroy(void* event) noexcept = 0;
  virtual void event_record(void* event, const Stream& stream) = 0;
  virtual void event_block(void* event, const Stream& stream) = 0;
  virtual void event_synchronize(void* event) = 0;
  virtual bool event_ready(void* event) = 0;
  virtual float event_elapsed_ms(void* start, void* end) = 0;

  /// The context's numerics policy (default: no TF32, deterministic). Changing it affects the algorithm choices of
  /// calls made after it; cached choices are keyed by it.
  Numerics numerics() const { return {allow_tf32_.load(), deterministic_.load()}; }
  void set_numerics(const Numerics& n) {
    allow_tf32_.store(n.allow_tf32);
    deterministic_.store(n.deterministic);
  }

  /// Per-context state of type T, created on first use as T(*this). T derives from ContextExtension.
  /// Thread-safe; the returned reference lives as long as the context.
  template <class T>
  T& extension() {
    const int slot = detail::extension_slot<T>();
    if (ContextExtension* found = find_extension(slot)) return static_cast<T&>(*found);
    return static_cast<T&>(install_extension(slot, [this] { return std::make_unique<T>(*this); }));
  }

 protected:
  /// Destroys extensions (handles) before the derived context tears down streams and memory.
  void destroy_extensions();

 private:
  template <class F>
  ContextExtension& install_extension(int slot, F&& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (static_cast<size_t>(slot) >= extensions_.size()) extensions_.resize(static_cast<size_t>(slot) + 1);
    auto& entry = extensions_[static_cast<size_t>(slot)];
    if (!entry) entry = make();
    publish(slot);
    return *entry;
  }
  ContextExtension* find_extension(int slot) const;
  void publish(int slot);

  std::atomic<bool> allow_tf32_{false}, deterministic_{true};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<ContextExtension>> extensions_;
  // Lock-free read path: a fixed table of published pointers (slots beyond it use the mutex).
  static constexpr int kFastSlots = 32;
  std::atomic<ContextExtension*> fast_[kFastSlots] = {};
};

}  // namespace sprint
