// device_context.cpp: extension slots and Stream's forwarding methods.
#include "sprint/runtime/device_context.h"

#include "sprint/core/error.h"
#include "sprint/core/tensor.h"

namespace sprint {
namespace detail {
int next_extension_slot() {
  static std::atomic<int> counter{0};
  return counter.fetch_add(1);
}
}  // namespace detail

DeviceContext::~DeviceContext() = default;

void DeviceContext::destroy_extensions() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& slot : fast_) slot.store(nullptr);
  // Destroy in reverse creation order of slots.
  while (!extensions_.empty()) extensions_.pop_back();
}

ContextExtension* DeviceContext::find_extension(int slot) const {
  if (slot < kFastSlots) return fast_[slot].load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<size_t>(slot) < extensions_.size() ? extensions_[static_cast<size_t>(slot)].get() : nullptr;
}

void DeviceContext::publish(int slot) {
  if (slot < kFastSlots) fast_[slot].store(extensions_[static_cast<size_t>(slot)].get(), std::memory_order_release);
}

Device Stream::device() const { return context().device(); }

DeviceContext& Stream::context() const {
  SPRINT_CHECK(context_ != nullptr, "use of an invalid (default-constructed) stream");
  return *context_;
}

Allocator& Stream::allocator() const { return context().stream_allocator(*this); }

void Stream::synchronize() const { context().synchronize(*this); }

void Stream::wait_for(const Stream& other) const {
  if (&other.context() == &context()) {
    context().stream_wait(*this, other);
    return;
  }
  // Another device's stream: through an event of its device (Event::block knows each pair of devices).
  Event e(other.context());
  e.record(other);
  e.block(*this);
}

Event::Event(DeviceContext& context, bool timing) : context_(&context), native_(context.event_create(timing)) {}

Event::~Event() {
  if (context_) context_->event_destroy(native_);
}

Event::Event(Event&& other) noexcept : context_(other.context_), native_(other.native_) {
  other.context_ = nullptr;
  other.native_ = nullptr;
}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    if (context_) context_->event_destroy(native_);
    context_ = other.context_;
    native_ = other.native_;
    other.context_ = nullptr;
    other.native_ = nullptr;
  }
  return *this;
}

void Event::record(const Stream& stream) {
  SPRINT_CHECK(valid(), "record on an invalid event");
  SPRINT_CHECK(&stream.context() == context_, "event and stream belong to different devices");
  context_->event_record(native_, stream);
}

void Event::block(const Stream& stream) const {
  SPRINT_CHECK(valid(), "wait on an invalid event");
  DeviceContext& waiting = stream.context();
  if (&waiting == context_) {
    context_->event_block(native_, stream);
    return;
  }
  // Another device's event: a host event is complete once recorded; host work waits for a device event on the
  // host; a GPU stream waits on the device for another GPU's event (CUDA allows events of other devices there).
  const Device from = context_->device(), to = waiting.device();
  switch (from.type) {
    case DeviceType::kCPU:
      return;
    case DeviceType::kCUDA:
      break;
  }
  switch (to.type) {
    case DeviceType::kCPU:
      context_->event_synchronize(native_);
      return;
    case DeviceType::kCUDA:
      waiting.event_block(native_, stream);
      return;
  }
}

void Event::synchronize() const {
  if (valid()) context_->event_synchronize(native_);
}

bool Event::ready() const { return !valid() || context_->event_ready(native_); }

float Event::elapsed_ms_since(const Event& start) const {
  SPRINT_CHECK(valid() && start.valid() && start.context_ == context_, "elapsed_ms needs two events of one device");
  return context_->event_elapsed_ms(start.native_, native_);
}

void record_stream(const Tensor& tensor, const Stream& stream) {
  if (!tensor.defined() || !stream.valid()) return;
  const std::shared_ptr<Storage>& storage = tensor.storage();
  SPRINT_CHECK(storage->device() == stream.device(), "record_stream: a tensor on {} and a stream of {}",
               device_name(storage->device()), device_name(stream.device()));
  if (Allocator* allocator = storage->allocator()) allocator->record_stream(storage->data(), stream.native_handle());
}

}  // namespace sprint
