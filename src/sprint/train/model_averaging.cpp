// model_averaging.cpp: the masked mean over the group (model_averaging.h).
#include "sprint/train/model_averaging.h"

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"

namespace sprint::train {
namespace {

Tensor host_logical_f32(const Stream& stream, const Tensor& t) {
  return ops::to_host(stream, ops::cast_to(stream, t, DType::kF32));
}

}  // namespace

ModelAverager::ModelAverager(nn::Module& net, const ParameterMask* mask) : net_(net) { set_mask(mask); }

void ModelAverager::set_mask(const ParameterMask* mask) {
  if (mask != nullptr) check_mask_fits(net_, *mask);
  slots_.clear();
  values_ = dense_values_ = 0;
  for (auto& [name, p] : net_.named_parameters()) {
    Slot s{p, {}, true};
    const ParameterMask::Entry* e = mask != nullptr && p->trainable() ? mask->find(name) : nullptr;
    if (e != nullptr) {
      for (size_t i = 0; i < e->keep.size(); ++i)
        if (e->keep[i] != 0) s.positions.push_back(static_cast<int64_t>(i));
      s.whole = static_cast<int64_t>(s.positions.size()) == p->value().numel();
      if (s.whole) s.positions.clear();
    }
    const int64_t n = p->value().numel();
    dense_values_ += n;
    values_ += s.whole ? n : static_cast<int64_t>(s.positions.size());
    if (s.whole || !s.positions.empty()) slots_.push_back(std::move(s));
  }
  for (const nn::NamedBuffer& b : net_.named_buffers()) {
    dense_values_ += b.value.numel();
    values_ += b.value.numel();
  }
  masked_ = mask != nullptr;
}

void ModelAverager::merge(const Stream& stream, dist::ProcessGroup& group) {
  // Pack: the masked entries of each parameter's master in logical order, then every buffer.
  Tensor packed = Tensor::empty({values_}, DType::kF32);
  float* out = packed.data_as<float>();
  std::vector<Tensor> hosts;
  int64_t at = 0;
  for (const Slot& s : slots_) {
    Tensor h = host_logical_f32(stream, s.param->master_value());
    const float* v = h.data_as<float>();
    if (s.whole) {
      std::copy(v, v + h.numel(), out + at);
      at += h.numel();
    } else {
      for (int64_t i : s.positions) out[at++] = v[i];
    }
    hosts.push_back(std::move(h));
  }
  const std::vector<nn::NamedBuffer> buffers = net_.named_buffers();
  std::vector<Tensor> buffer_hosts;
  for (const nn::NamedBuffer& b : buffers) {
    Tensor h = host_logical_f32(stream, b.value);
    std::copy(h.data_as<float>(), h.data_as<float>() + h.numel(), out + at);
    at += h.numel();
    buffer_hosts.push_back(std::move(h));
  }
  SPRINT_ASSERT(at == values_, "packed {} values for a merge of {}", at, values_);
  const int64_t before = group.traffic().bytes;
  group.allreduce(stream, packed, dist::ReduceOp::kAverage);
  bytes_sent_ += group.traffic().bytes - before;
  if (masked_) {
    ++masked_merges_;
    masked_bytes_ += group.traffic().bytes - before;
  }
  // Unpack into the host copies and load them (layouts, compute copies and addresses stay as they are).
  at = 0;
  for (size_t k = 0; k < slots_.size(); ++k) {
    const Slot& s = slots_[k];
    float* v = hosts[k].data_as<float>();
    if (s.whole) {
      std::copy(out + at, out + at + hosts[k].numel(), v);
      at += hosts[k].numel();
    } else {
      for (int64_t i : s.positions) v[i] = out[at++];
    }
    s.param->load_value(stream, hosts[k]);
  }
  for (size_t k = 0; k < buffers.size(); ++k) {
    Tensor& h = buffer_hosts[k];
    std::copy(out + at, out + at + h.numel(), h.data_as<float>());
    at += h.numel();
    ops::copy(stream, ops::to_stream_device(stream, ops::cast_to(stream, h, buffers[k].value.dtype())),
              buffers[k].value);
  }
  ++merges_;
}

}  // namespace sprint::train
