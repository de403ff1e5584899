// lookahead.cpp: the weight average of lookahead.h, element-wise over each tensor's storage (blocked weights
// included: the average is taken in the layout the kernels keep them in, padding stays 0).
// Parameters that change layout after the average began take their average with them (logical copy). Under mixed
// precision the average follows the f32 masters, and the compute copies are refreshed from them.
#include "sprint/train/lookahead.h"

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_context.h"

namespace sprint::train {
namespace {
Tensor flat(const Tensor& t) {
  return Tensor::wrap(t.data(), {t.storage_numel()}, t.dtype(), t.device());
}
bool is_floating(DType d) {
  switch (d) {
    case DType::kF32:
    case DType::kF64:
    case DType::kF16:
    case DType::kBF16:
      return true;
    default:
      return false;
  }
}
}  // namespace

Lookahead::Lookahead(const Stream& stream, nn::Module& net) : net_(net) {
  for (const nn::NamedBuffer& t : state()) entries_.push_back({t.value, snapshot(stream, t.value)});
}

std::vector<nn::NamedBuffer> Lookahead::state() const {
  std::vector<nn::NamedBuffer> out;
  for (const auto& [name, p] : net_.named_parameters()) out.push_back({name, p->master_value()});
  for (const nn::NamedBuffer& b : net_.named_buffers())
    if (is_floating(b.value.dtype())) out.push_back(b);
  return out;
}

std::vector<nn::NamedBuffer> Lookahead::named_averages() const {
  std::vector<nn::NamedBuffer> out;
  const std::vector<nn::NamedBuffer> now = state();
  SPRINT_CHECK(now.size() == entries_.size(), "Lookahead: the model's state changed from {} to {} tensors",
               entries_.size(), now.size());
  for (size_t i = 0; i < now.size(); ++i) out.push_back({now[i].name, entries_[i].ema});
  return out;
}

void Lookahead::load_averages(const Stream& stream, const std::function<Tensor(const std::string&)>& find) {
  const std::vector<nn::NamedBuffer> now = state();
  SPRINT_CHECK(now.size() == entries_.size(), "Lookahead: the model's state changed from {} to {} tensors",
               entries_.size(), now.size());
  for (size_t i = 0; i < now.size(); ++i) {
    const Tensor src = find(now[i].name);
    if (!src.defined()) SPRINT_THROW(FormatError, "the weight average of {} is missing", now[i].name);
    if (src.shape() != entries_[i].ema.shape())
      SPRINT_THROW(FormatError, "the weight average of {} is {}, the tensor is {}", now[i].name,
                   src.shape().to_string(), entries_[i].ema.shape().to_string());
    ops::copy(stream, ops::to_stream_device(stream, src), entries_[i].ema);
  }
}

Tensor Lookahead::snapshot(const Stream& stream, const Tensor& value) {
  Tensor copy =
      Tensor::empty(value.shape(), value.dtype(), stream.allocator(), value.memory_format());
  ops::copy(stream, flat(value), flat(copy));
  return copy;
}

void Lookahead::update(const Stream& stream, double decay) {
  std::vector<Tensor> now;
  for (const nn::NamedBuffer& b : state()) now.push_back(b.value);
  SPRINT_CHECK(now.size() == entries_.size(), "Lookahead: the model's state changed from {} to {} tensors",
               entries_.size(), now.size());
  for (size_t i = 0; i < now.size(); ++i) {
    Entry& e = entries_[i];
    // A parameter moved to another layout since the average began (a convolution's weights go to the kernels'
    // blocked layout on the first step): the average follows it into that layout.
    if (now[i].data() != e.value.data() || now[i].memory_format() != e.value.memory_format()) {
      SPRINT_CHECK(now[i].shape() == e.value.shape() && now[i].device() == e.value.device(),
                   "Lookahead: a tracked tensor changed from {} to {}", e.value.description(),
                   now[i].description());
      Tensor ema =
          Tensor::empty(now[i].shape(), now[i].dtype(), stream.allocator(), now[i].memory_format());
      ops::copy(stream, e.ema, ema);
      e = {now[i], ema};
    }
    const Tensor ema = flat(e.ema), value = flat(e.value);
    ops::axpby(stream, {.a = ema, .b = value, .out = ema, .alpha = decay, .beta = 1.0 - decay});
    ops::copy(stream, ema, value);
  }
  for (const nn::ParameterPtr& p : net_.parameters()) p->refresh_compute_copy(stream);  // mixed precision
}

}  // namespace sprint::train
