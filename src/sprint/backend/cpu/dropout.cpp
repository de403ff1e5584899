// dropout.cpp (CPU): inverted dropout with the counter-based Philox mask of dropout.h. One loop over memory
// order is both the reference and the fast path; it maps each memory position to the element's logical
// (row-major) index so that NCHW and NHWC tensors draw the same mask.
#include "sprint/backend/api/dropout.h"

#include <array>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"

namespace sprint::cpu {
namespace {

/// The mask with a device state (host memory here) folded in: seed = state[0], offset = state[1] + offset.
DropoutMask resolve(const DropoutMask& m) {
  if (!m.state.defined()) return m;
  const int64_t* state = m.state.data_as<int64_t>();
  return {.p = m.p, .seed = static_cast<uint64_t>(state[0]), .offset = static_cast<uint64_t>(state[1]) + m.offset};
}

/// dropout_keep() with the last Philox block cached: consecutive elements share a block of 4 words.
class MaskReader {
 public:
  explicit MaskReader(const DropoutMask& m)
      : mask_(m), key_{static_cast<uint32_t>(m.seed), static_cast<uint32_t>(m.seed >> 32)} {}
  bool keep(uint64_t e) {
    const uint64_t word = mask_.offset + e, block = word >> 2;
    if (block != block_) {
      words_ = philox4x32({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), 0u, 0u}, key_);
      block_ = block;
    }
    return uniform_from_bits(words_[word & 3]) >= static_cast<float>(mask_.p);
  }

 private:
  DropoutMask mask_;
  std::array<uint32_t, 2> key_;
  std::array<uint32_t, 4> words_{};
  uint64_t block_ = ~uint64_t{0};
};

/// Calls f(memory offset, logical index) for every element of a dense tensor (contiguous, channels-last or
/// channel-blocked: the padding channels of a blocked tensor are not visited and stay 0).
template <class F>
void for_each_element(const Tensor& t, F&& f) {
  const int64_t total = t.numel();
  if (t.ndim() != 4 || t.memory_format() == MemoryFormat::kContiguous) {
    for (int64_t i = 0; i < total; ++i) f(i, i);
    return;
  }
  if (t.is_channel_blocked()) {
    const Offsets4d o = offsets4d(t);
    int64_t i = 0;
    for (int64_t n = 0; n < t.dim(0); ++n)
      for (int64_t c = 0; c < t.dim(1); ++c)
        for (int64_t h = 0; h < t.dim(2); ++h)
          for (int64_t w = 0; w < t.dim(3); ++w) f(o(n, c, h, w), i++);
    return;
  }
  // NHWC memory order (n, h, w, c); logical index ((n·C + c)·H + h)·W + w.
  const int64_t n_batch = t.dim(0), channels = t.dim(1), height = t.dim(2), width = t.dim(3);
  const int64_t plane = height * width;
  int64_t i = 0;
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t h = 0; h < height; ++h)
      for (int64_t w = 0; w < width; ++w) {
        const int64_t base = n * channels * plane + h * width + w;
        for (int64_t c = 0; c < channels; ++c) f(i++, base + c * plane);
      }
}

template <class T>
void dropout_forward_typed(const DropoutForwardArgs& a) {
  const T* x = a.x.data_as<T>();
  T* y = a.y.data_as<T>();
  const T scale = static_cast<T>(1.0 / (1.0 - a.mask.p));
  MaskReader mask(resolve(a.mask));
  for_each_element(
      a.x, [&](int64_t i, int64_t e) { y[i] = mask.keep(static_cast<uint64_t>(e)) ? x[i] * scale : T(0); });
}

template <class T>
void dropout_backward_typed(const DropoutBackwardArgs& a) {
  const T* dy = a.dy.data_as<T>();
  T* dx = a.dx.data_as<T>();
  const T scale = static_cast<T>(1.0 / (1.0 - a.mask.p));
  const bool acc = a.mode == GradMode::kAccumulate;
  MaskReader mask(resolve(a.mask));
  for_each_element(a.dy, [&](int64_t i, int64_t e) {
    const T g = mask.keep(static_cast<uint64_t>(e)) ? dy[i] * scale : T(0);
    store(dx[i], g, acc);
  });
}

}  // namespace

void dropout_forward(const Stream& stream, const DropoutForwardArgs& args) {
  if (any_half({&args.x, &args.y})) {
    HalfWidening h(stream);
    dropout_forward(stream, {.x = h.in(args.x), .y = h.out(args.y), .mask = args.mask});
    return h.finish();
  }
  dispatch_floating(args.x.dtype(), "dropout_forward",
                    [&](auto t) { dropout_forward_typed<decltype(t)>(args); });
}

void dropout_backward(const Stream& stream, const DropoutBackwardArgs& args) {
  if (any_half({&args.dy, &args.dx})) {
    HalfWidening h(stream);
    dropout_backward(stream,
                     {.dy = h.in(args.dy), .dx = h.out(args.dx, args.mode), .mask = args.mask, .mode = args.mode});
    return h.finish();
  }
  dispatch_floating(args.dy.dtype(), "dropout_backward",
                    [&](auto t) { dropout_backward_typed<decltype(t)>(args); });
}

void philox_state_advance(const Stream&, const PhiloxStateAdvanceArgs& args) {
  int64_t* state = args.state.data_as<int64_t>();
  state[1] = static_cast<int64_t>(static_cast<uint64_t>(state[1]) + args.n_words);  // wraps like the device's
}

}  // namespace sprint::cpu
