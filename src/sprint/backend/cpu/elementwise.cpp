// elementwise.cpp (CPU): fill, cast/copy (any dtypes, any strides), ReLU forward/backward, axpby.
// The loops are both the reference and the fast path: they are memory-bound and the compiler vectorises them; large
// ones are split over the context's threads (per-element results, so the thread count never changes them).
#include "sprint/backend/api/elementwise.h"

#include <algorithm>
#include <cstring>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/half_widening.h"
#include "sprint/backend/cpu/layout4d.h"

namespace sprint::cpu {
namespace {

// Element read/write through double (exact for every dtype sprint has except i64 beyond 2^53).
double load_as_double(const char* p, DType dtype) {
  switch (dtype) {
    case DType::kF32: return *reinterpret_cast<const float*>(p);
    case DType::kF64: return *reinterpret_cast<const double*>(p);
    case DType::kF16: return f16_to_float(*reinterpret_cast<const f16*>(p));
    case DType::kBF16: return bf16_to_float(*reinterpret_cast<const bf16*>(p));
    case DType::kI32: return *reinterpret_cast<const int32_t*>(p);
    case DType::kI64: return static_cast<double>(*reinterpret_cast<const int64_t*>(p));
    case DType::kU8: return *reinterpret_cast<const uint8_t*>(p);
  }
  return 0.0;
}

void store_from_double(char* p, DType dtype, double v) {
  switch (dtype) {
    case DType::kF32: *reinterpret_cast<float*>(p) = static_cast<float>(v); return;
    case DType::kF64: *reinterpret_cast<double*>(p) = v; return;
    case DType::kF16: *reinterpret_cast<f16*>(p) = f16_from_float(static_cast<float>(v)); return;
    case DType::kBF16: *reinterpret_cast<bf16*>(p) = bf16_from_float(static_cast<float>(v)); return;
    case DType::kI32: *reinterpret_cast<int32_t*>(p) = static_cast<int32_t>(v); return;
    case DType::kI64: *reinterpret_cast<int64_t*>(p) = static_cast<int64_t>(v); return;
    case DType::kU8: *reinterpret_cast<uint8_t*>(p) = static_cast<uint8_t>(v); return;
  }
}

template <class T>
void fill_typed(const Tensor& out, T value) {
  T* p = static_cast<T*>(out.data());
  std::fill(p, p + out.numel(), value);
}

// Visits every logical index of `shape` in row-major order, calling f(src_offset, dst_offset) in elements.
template <class F>
void for_each_strided(const Shape& shape, const Strides& s1, const Strides& s2, F&& f) {
  const int nd = shape.size();
  if (shape.product() == 0) return;
  Dims index;
  for (int i = 0; i < nd; ++i) index.push_back(0);
  int64_t o1 = 0, o2 = 0;
  const int64_t inner = nd ? shape[nd - 1] : 1;
  const int64_t is1 = nd ? s1[nd - 1] : 0, is2 = nd ? s2[nd - 1] : 0;
  while (true) {
    for (int64_t k = 0; k < inner; ++k) f(o1 + k * is1, o2 + k * is2);
    int d = nd - 2;
    for (; d >= 0; --d) {
      o1 += s1[d];
      o2 += s2[d];
      if (++index[d] < shape[d]) break;
      o1 -= s1[d] * shape[d];
      o2 -= s2[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

// Visits every logical (n, c, h, w) of two 4-D tensors of one shape, at least one of them blocked (activations
// or weights), calling f(src_offset, dst_offset); the padding of a blocked destination is not written (it stays 0).
template <class F>
void for_each_4d(const Tensor& src, const Tensor& dst, F&& f) {
  const Offsets4d so = offsets4d(src), d = offsets4d(dst);
  for (int64_t n = 0; n < src.dim(0); ++n)
    for (int64_t c = 0; c < src.dim(1); ++c)
      for (int64_t h = 0; h < src.dim(2); ++h)
        for (int64_t w = 0; w < src.dim(3); ++w) f(so(n, c, h, w), d(n, c, h, w));
}

}  // namespace

void fill(const Stream&, const FillArgs& a) {
  SPRINT_CHECK(a.out.is_contiguous(), "fill needs a contiguous tensor, got {}", a.out.description());
  switch (a.out.dtype()) {
    case DType::kF32: return fill_typed<float>(a.out, static_cast<float>(a.value));
    case DType::kF64: return fill_typed<double>(a.out, a.value);
    case DType::kF16: return fill_typed<f16>(a.out, f16_from_float(static_cast<float>(a.value)));
    case DType::kBF16: return fill_typed<bf16>(a.out, bf16_from_float(static_cast<float>(a.value)));
    case DType::kI32: return fill_typed<int32_t>(a.out, static_cast<int32_t>(a.value));
    case DType::kI64: return fill_typed<int64_t>(a.out, static_cast<int64_t>(a.value));
    case DType::kU8: return fill_typed<uint8_t>(a.out, static_cast<uint8_t>(a.value));
  }
}

void cast(const Stream&, const CastArgs& a) {
  const DType sd = a.src.dtype(), dd = a.dst.dtype();
  const bool same_blocking = a.src.is_blocked() && a.src.memory_format() == a.dst.memory_format();
  if (sd == dd && ((a.src.is_contiguous() && a.dst.is_contiguous()) || same_blocking)) {
    if (a.src.numel()) std::memmove(a.dst.data(), a.src.data(), a.src.n_bytes());
    return;
  }
  const char* src = static_cast<const char*>(a.src.data());
  char* dst = static_cast<char*>(a.dst.data());
  const int64_t ses = static_cast<int64_t>(a.src.element_size()), des = static_cast<int64_t>(a.dst.element_size());
  if (a.src.is_blocked() || a.dst.is_blocked()) {
    if (sd == DType::kF32 && dd == DType::kF32) {
      for_each_4d(a.src, a.dst, [&](int64_t i, int64_t j) {
        reinterpret_cast<float*>(dst)[j] = reinterpret_cast<const float*>(src)[i];
      });
      return;
    }
    for_each_4d(a.src, a.dst, [&](int64_t i, int64_t j) {
      store_from_double(dst + j * des, dd, load_as_double(src + i * ses, sd));
    });
    return;
  }
  if (sd == DType::kF32 && dd == DType::kF32) {
    for_each_strided(a.src.shape(), a.src.strides(), a.dst.strides(), [&](int64_t i, int64_t j) {
      reinterpret_cast<float*>(dst)[j] = reinterpret_cast<const float*>(src)[i];
    });
    return;
  }
  for_each_strided(a.src.shape(), a.src.strides(), a.dst.strides(), [&](int64_t i, int64_t j) {
    store_from_double(dst + j * des, dd, load_as_double(src + i * ses, sd));
  });
}

namespace {
/// Element-wise ops on bf16 tensors in one pass: each element widened, computed in f32 and rounded once, the
/// numerics of the widened path (half_widening.h) without its copies, on the raw 16-bit patterns.
bool all_bf16(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined() && t->dtype() != DType::kBF16) return false;
  return true;
}
const uint16_t* bits_of(const Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data()); }
uint16_t* mutable_bits_of(const Tensor& t) { return reinterpret_cast<uint16_t*>(t.data()); }
}  // namespace

void relu_forward(const Stream& stream, const ReluForwardArgs& a) {
  if (all_bf16({&a.x, &a.y})) {
    const uint16_t* x = bits_of(a.x);
    uint16_t* y = mutable_bits_of(a.y);
    const int64_t n = a.x.numel();
    const int threads = elementwise_threads(stream, n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) y[i] = widen_bf16_bits(x[i]) > 0.0f ? x[i] : uint16_t{0};
    return;
  }
  if (any_half({&a.x, &a.y})) {
    HalfWidening h(stream);
    relu_forward(stream, {.x = h.in(a.x), .y = h.out(a.y)});
    return h.finish();
  }
  dispatch_floating(a.x.dtype(), "relu_forward", [&](auto t) {
    using T = decltype(t);
    const T* x = a.x.data_as<T>();
    T* y = a.y.data_as<T>();
    const int64_t n = a.x.numel();
    const int threads = elementwise_threads(stream, n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
  });
}

void relu_backward(const Stream& stream, const ReluBackwardArgs& a) {
  if (all_bf16({&a.dy, &a.y, &a.dx})) {
    const uint16_t* dy = bits_of(a.dy);
    const uint16_t* y = bits_of(a.y);
    uint16_t* dx = mutable_bits_of(a.dx);
    const int64_t n = a.dy.numel();
    const int threads = elementwise_threads(stream, n);
    if (a.mode == GradMode::kAccumulate) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i)
        dx[i] = narrow_bf16_bits(widen_bf16_bits(dx[i]) +
                                 (widen_bf16_bits(y[i]) > 0.0f ? widen_bf16_bits(dy[i]) : 0.0f));
    } else {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i) dx[i] = widen_bf16_bits(y[i]) > 0.0f ? dy[i] : uint16_t{0};
    }
    return;
  }
  if (any_half({&a.dy, &a.y, &a.dx})) {
    HalfWidening h(stream);
    relu_backward(stream, {.dy = h.in(a.dy), .y = h.in(a.y), .dx = h.out(a.dx, a.mode), .mode = a.mode});
    return h.finish();
  }
  dispatch_floating(a.dy.dtype(), "relu_backward", [&](auto t) {
    using T = decltype(t);
    const T* dy = a.dy.data_as<T>();
    const T* y = a.y.data_as<T>();
    T* dx = a.dx.data_as<T>();
    const int64_t n = a.dy.numel();
    const int threads = elementwise_threads(stream, n);
    if (a.mode == GradMode::kAccumulate) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i) dx[i] += y[i] > T(0) ? dy[i] : T(0);
    } else {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
    }
  });
}

void axpby(const Stream& stream, const AxpbyArgs& a) {
  if (all_bf16({&a.a, &a.out}) && (a.beta == 0.0 || all_bf16({&a.b}))) {
    const uint16_t* x = bits_of(a.a);
    uint16_t* out = mutable_bits_of(a.out);
    const float alpha = static_cast<float>(a.alpha), beta = static_cast<float>(a.beta);
    const int64_t n = a.out.numel();
    const int threads = elementwise_threads(stream, n);
    if (a.beta == 0.0) {  // b is not read
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i) out[i] = narrow_bf16_bits(alpha * widen_bf16_bits(x[i]));
      return;
    }
    const uint16_t* y = bits_of(a.b);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i)
      out[i] = narrow_bf16_bits(alpha * widen_bf16_bits(x[i]) + beta * widen_bf16_bits(y[i]));
    return;
  }
  if (any_half({&a.a, &a.b, &a.out})) {
    HalfWidening h(stream);
    const Tensor unread;  // b is not read when beta is 0
    const Tensor& b = a.beta == 0.0 ? unread : h.in(a.b);
    axpby(stream, {.a = h.in(a.a), .b = b, .out = h.out(a.out), .alpha = a.alpha, .beta = a.beta});
    return h.finish();
  }
  dispatch_floating(a.out.dtype(), "axpby", [&](auto t) {
    using T = decltype(t);
    const T* x = a.a.data_as<T>();
    T* out = a.out.data_as<T>();
    const T alpha = static_cast<T>(a.alpha), beta = static_cast<T>(a.beta);
    const int64_t n = a.out.numel();
    const int threads = elementwise_threads(stream, n);
    if (a.beta == 0.0) {  // out = alpha·a: b is not read (it may hold inf or NaN)
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
      for (int64_t i = 0; i < n; ++i) out[i] = alpha * x[i];
      return;
    }
    const T* y = a.b.data_as<T>();
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t i = 0; i < n; ++i) out[i] = alpha * x[i] + beta * y[i];
  });
}

}  // namespace sprint::cpu
