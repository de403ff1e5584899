// half_widening.cpp: HalfWidening (see half_widening.h).
#include "sprint/backend/cpu/half_widening.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>

#include "sprint/backend/api/conv.h"
#include "sprint/backend/api/elementwise.h"
#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {
// True when t's elements fill its storage in its format's order, so that a copy made by widened_like stores
// the same logical element at the same index: a conversion is then one pass over the storage.
bool dense(const Tensor& t) {
  return t.is_contiguous() || t.is_blocked() || (t.ndim() == 4 && t.is_channels_last());
}
// The copy keeps a dense tensor's format; a strided view's copy is contiguous.
MemoryFormat widened_format(const Tensor& t) { return dense(t) ? t.memory_format() : MemoryFormat::kContiguous; }

// f16 <-> f32 eight at a time with F16C (every x86 CPU with AVX2 has it), round to nearest even as
// f16_from_float; the tail and CPUs without F16C take the portable conversions.
bool has_f16c() {
  static const bool yes = __builtin_cpu_supports("f16c");
  return yes;
}
__attribute__((target("avx,f16c"))) int64_t widen_f16_f16c(const f16* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  return i;
}
__attribute__((target("avx,f16c"))) int64_t narrow_f16_f16c(const float* in, f16* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return i;
}

// dst[i] = convert(src[i]) over the storage of two dense tensors of one shape and format (half <-> f32), in
// chunks over the context's threads.
template <class Src, class Dst, class Chunk>
void convert_storage(const Stream& stream, const Tensor& src, const Tensor& dst, Chunk chunk) {
  const Src* in = static_cast<const Src*>(src.data());
  Dst* out = static_cast<Dst*>(dst.data());
  const int64_t n = src.storage_numel();
  const int threads = elementwise_threads(stream, n);
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * kChunk;
    chunk(in + begin, out + begin, std::min(kChunk, n - begin));
  }
}

void widen_f16(const f16* in, float* out, int64_t n) {
  int64_t i = has_f16c() ? widen_f16_f16c(in, out, n) : 0;
  for (; i < n; ++i) out[i] = f16_to_float(in[i]);
}
void narrow_f16(const float* in, f16* out, int64_t n) {
  int64_t i = has_f16c() ? narrow_f16_f16c(in, out, n) : 0;
  for (; i < n; ++i) out[i] = f16_from_float(in[i]);
}
void widen_bf16_n(const bf16* in, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = widen_bf16(in[i]);
}
void narrow_bf16_n(const float* in, bf16* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = narrow_bf16(in[i]);
}

// dst = convert(src) for a half tensor and its f32 copy, either way round.
void convert(const Stream& stream, const Tensor& src, const Tensor& dst) {
  if (!dense(src) || !dense(dst) || src.strides() != dst.strides() ||
      src.memory_format() != dst.memory_format())
    return cast(stream, {.src = src, .dst = dst});
  switch (src.dtype()) {
    case DType::kF16:
      return convert_storage<f16, float>(stream, src, dst, widen_f16);
    case DType::kBF16:
      return convert_storage<bf16, float>(stream, src, dst, widen_bf16_n);
    case DType::kF32:
      switch (dst.dtype()) {
        case DType::kF16:
          return convert_storage<float, f16>(stream, src, dst, narrow_f16);
        case DType::kBF16:
          return convert_storage<float, bf16>(stream, src, dst, narrow_bf16_n);
        case DType::kF32:
        case DType::kF64:
        case DType::kI32:
        case DType::kI64:
        case DType::kU8:
          break;
      }
      break;
    case DType::kF64:
    case DType::kI32:
    case DType::kI64:
    case DType::kU8:
      break;
  }
  cast(stream, {.src = src, .dst = dst});
}
}  // namespace

bool is_half(const Tensor& t) {
  if (!t.defined()) return false;
  switch (t.dtype()) {
    case DType::kF16:
    case DType::kBF16:
      return true;
    case DType::kF32:
    case DType::kF64:
    case DType::kI32:
    case DType::kI64:
    case DType::kU8:
      return false;
  }
  return false;
}

bool native_bf16_operands(const Stream& stream, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (t->defined() && (t->dtype() != DType::kBF16 || t->is_channel_blocked())) return false;
  return has_native_bf16_convolutions(stream);
}

bool any_half(std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    if (is_half(*t)) return true;
  return false;
}

Tensor HalfWidening::widened_like(const Tensor& t) {
  return Tensor::empty(t.shape(), DType::kF32, cpu_allocator(), widened_format(t));
}

const Tensor& HalfWidening::in(const Tensor& t) {
  if (!is_half(t)) return t;
  Tensor& copy = copies_.emplace_back(widened_like(t));
  convert(stream_, t, copy);
  return copy;
}

const Tensor& HalfWidening::out(const Tensor& t, GradMode mode) {
  if (!is_half(t)) return t;
  Tensor& copy = copies_.emplace_back(widened_like(t));
  switch (mode) {
    case GradMode::kOverwrite:
      break;
    case GradMode::kAccumulate:
      convert(stream_, t, copy);
      break;
  }
  outputs_.emplace_back(t, copy);
  return copy;
}

const Tensor& HalfWidening::scratch(const Tensor& t) {
  if (!is_half(t)) return t;
  return copies_.emplace_back(widened_like(t));
}

void HalfWidening::finish() {
  for (const auto& [half, widened] : outputs_) convert(stream_, widened, half);
  outputs_.clear();
}

}  // namespace sprint::cpu
