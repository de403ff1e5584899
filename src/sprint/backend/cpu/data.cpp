// data.cpp (CPU): gather_normalize and gather_labels. The reference walks every element in double through
// out's strides; the fast path builds, per channel, a table of the 256 possible outputs (same double formula,
// so bit-identical to the reference); for f32 and bf16 it then writes x·scale + shift (one double FMA,
// vectorised) after checking that this reproduces the table on all 256 inputs, otherwise it looks pixels up
// in the table. No per-element branches or calls either way. Feature rows of equal dtype are memcpy'd. With an
// ImageAugment the reference augments each normalised sample with the oracle (augment.cpp); the fast path writes
// the augmented sample directly, row by row.
#include "sprint/backend/api/data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "sprint/backend/cpu/cpu_common.h"

namespace sprint::cpu {
namespace {

template <class T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, double>)
    return v;
  else if constexpr (std::is_same_v<T, float>)
    return static_cast<float>(v);
  else if constexpr (std::is_same_v<T, f16>)
    return f16_from_float(static_cast<float>(v));
  else
    return bf16_from_float(static_cast<float>(v));
}

template <class T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>)
    return static_cast<double>(v);
  else if constexpr (std::is_same_v<T, f16>)
    return f16_to_float(v);
  else
    return bf16_to_float(v);
}

// Calls f(T{}) for the floating dtypes gather_normalize writes.
template <class F>
void dispatch_gather_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32:
      f(float{});
      return;
    case DType::kF64:
      f(double{});
      return;
    case DType::kF16:
      f(f16{});
      return;
    case DType::kBF16:
      f(bf16{});
      return;
    default:
      SPRINT_THROW(Unsupported, "gather_normalize on the CPU writes f32, f64, f16 or bf16, got {}",
                   dtype_name(dtype));
  }
}

inline int64_t checked_row(int32_t index, int64_t position, int64_t m, const char* op) {
  if (index < 0 || index >= m) [[unlikely]]
    SPRINT_THROW(InvalidArgument, "{}: index {} at position {} is out of range [0, {})", op, index, position,
                 m);
  return index;
}

// (x / 255 - mean[c]) / std[c] in double: the one formula both paths use.
inline double normalize_pixel(int v, double mean, double std) {
  return (static_cast<double>(v) / 255.0 - mean) / std;
}

inline double channel_mean(const GatherNormalizeArgs& a, int64_t c) {
  return a.mean.empty() ? 0.0 : a.mean[static_cast<size_t>(c)];
}
inline double channel_std(const GatherNormalizeArgs& a, int64_t c) {
  return a.std.empty() ? 1.0 : a.std[static_cast<size_t>(c)];
}

// ------------------------------------------------------------------------------------------------------------
// Reference
// ------------------------------------------------------------------------------------------------------------
template <class T>
void gather_images_ref(const GatherNormalizeArgs& a) {
  const int64_t m = a.src.dim(0), nc = a.src.dim(1), h = a.src.dim(2), w = a.src.dim(3), n = a.indices.dim(0);
  const uint8_t* src = a.src.data_as<uint8_t>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  T* out = a.out.data_as<T>();
  const Strides& s = a.out.strides();
  const bool augment = a.augment.enabled();
  std::vector<double> sample(static_cast<size_t>(nc * h * w)), augmented(augment ? sample.size() : 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = checked_row(idx[i], i, m, "gather_normalize");
    for (int64_t k = 0; k < nc * h * w; ++k)
      sample[static_cast<size_t>(k)] =
          normalize_pixel(src[row * nc * h * w + k], channel_mean(a, k / (h * w)), channel_std(a, k / (h * w)));
    if (augment) ref::augment_sample(sample, augmented, nc, h, w, a.augment, augment_draw(a.augment, row, h, w));
    const std::vector<double>& values = augment ? augmented : sample;
    for (int64_t c = 0; c < nc; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          out[i * s[0] + c * s[1] + y * s[2] + x * s[3]] =
              from_double<T>(values[static_cast<size_t>((c * h + y) * w + x)]);
  }
}

template <class TIn, class TOut>
void gather_features_ref(const GatherNormalizeArgs& a) {
  const int64_t m = a.src.dim(0), f = a.src.dim(1), n = a.indices.dim(0);
  const TIn* src = a.src.data_as<TIn>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  TOut* out = a.out.data_as<TOut>();
  const Strides& s = a.out.strides();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = checked_row(idx[i], i, m, "gather_normalize");
    for (int64_t k = 0; k < f; ++k) out[i * s[0] + k * s[1]] = from_double<TOut>(to_double(src[row * f + k]));
  }
}

// ------------------------------------------------------------------------------------------------------------
// Fast path
// ------------------------------------------------------------------------------------------------------------
// Round-to-nearest-even float -> bf16 for finite values, inline so the loop vectorises. Only used after
// affine_matches_table() proved it equal to the reference conversion on all 256 inputs of the channel.
inline bf16 bf16_from_finite_float(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>(u >> 16)};
}

// The normalisation as one fused multiply-add in double, x·scale + shift, then rounded to T: vectorisable.
template <class T>
inline T affine_pixel(uint8_t v, double scale, double shift) {
  const float y = static_cast<float>(std::fma(static_cast<double>(v), scale, shift));
  if constexpr (std::is_same_v<T, float>)
    return y;
  else
    return bf16_from_finite_float(y);
}

template <class T>
constexpr bool kHasAffinePath = std::is_same_v<T, float> || std::is_same_v<T, bf16>;

// True when the affine form reproduces the reference table bit for bit for every one of the 256 inputs (in
// practice always: the double error is ~1e-16, far below float's rounding step; otherwise the table is used).
template <class T>
bool affine_matches_table(const T* table, double scale, double shift) {
  for (int v = 0; v < 256; ++v) {
    const T y = affine_pixel<T>(static_cast<uint8_t>(v), scale, shift);
    if (std::memcmp(&y, &table[v], sizeof(T)) != 0) return false;
  }
  return true;
}

// One image plane of H·W pixels into dst with pixel stride `sp` (1: NCHW, C: NHWC).
template <class T, bool kAffine>
void write_plane(const uint8_t* plane, T* dst, int64_t hw, int64_t sp, const T* table, double scale,
                 double shift) {
  if constexpr (kAffine) {
    if (sp == 1) {
      for (int64_t p = 0; p < hw; ++p) dst[p] = affine_pixel<T>(plane[p], scale, shift);
    } else {
      for (int64_t p = 0; p < hw; ++p) dst[p * sp] = affine_pixel<T>(plane[p], scale, shift);
    }
  } else {
    if (sp == 1) {
      for (int64_t p = 0; p < hw; ++p) dst[p] = table[plane[p]];
    } else {
      for (int64_t p = 0; p < hw; ++p) dst[p * sp] = table[plane[p]];
    }
  }
}

// Everything one channel needs: the reference table and, when it reproduces the table, the affine form.
template <class T>
struct ChannelPlan {
  T table[256];
  double scale = 1.0, shift = 0.0;
  bool affine = false;
};

template <class T>
void plan_channel(ChannelPlan<T>& plan, double mean, double std) {
  for (int v = 0; v < 256; ++v) plan.table[v] = from_double<T>(normalize_pixel(v, mean, std));
  plan.scale = 1.0 / (255.0 * std);
  plan.shift = -mean / std;
  if constexpr (kHasAffinePath<T>) plan.affine = affine_matches_table(plan.table, plan.scale, plan.shift);
}

template <class T>
void write_planned(const ChannelPlan<T>& plan, const uint8_t* plane, T* dst, int64_t hw, int64_t sp) {
  if constexpr (kHasAffinePath<T>) {
    if (plan.affine) return write_plane<T, true>(plane, dst, hw, sp, plan.table, plan.scale, plan.shift);
  }
  write_plane<T, false>(plane, dst, hw, sp, plan.table, plan.scale, plan.shift);
}

// ------------------------------------------------------------------------------------------------------------
// Fast path with augmentation: a plane is written row by row from its source row (padded_index); in a row the
// columns whose source lies inside the image form one run, written by write_planned (vectorised) when not
// flipped and looked up backwards when flipped; the at most r border columns on each side are mapped one by one.
// The cutout square is zeroed afterwards. One pass over the output, no allocation.
// ------------------------------------------------------------------------------------------------------------
template <class T>
void write_augmented_row(const ChannelPlan<T>& plan, const uint8_t* src_row, T* dst, int64_t w, int64_t sp,
                         const ImageAugment& a, const SampleAugment& s, T zero) {
  const int64_t dx = s.shift_x;
  const int64_t x0 = std::clamp<int64_t>(-dx, 0, w), x1 = std::clamp<int64_t>(w - dx, x0, w);
  auto border = [&](int64_t x) {
    const int64_t sx = padded_index(x, dx, w, a.pad_mode);
    dst[x * sp] = sx < 0 ? zero : plan.table[src_row[s.flip ? w - 1 - sx : sx]];
  };
  for (int64_t x = 0; x < x0; ++x) border(x);
  if (s.flip) {
    for (int64_t x = x0; x < x1; ++x) dst[x * sp] = plan.table[src_row[w - 1 - (x + dx)]];
  } else {
    write_planned(plan, src_row + x0 + dx, dst + x0 * sp, x1 - x0, sp);
  }
  for (int64_t x = x1; x < w; ++x) border(x);
}

// One (H, W) plane of sample `sample` into dst (row stride sr, pixel stride sp).
template <class T>
void write_augmented_plane(const ChannelPlan<T>& plan, const uint8_t* plane, T* dst, int64_t h, int64_t w,
                           int64_t sr, int64_t sp, const ImageAugment& a, int64_t sample) {
  const SampleAugment s = augment_draw(a, sample, h, w);
  const T zero = from_double<T>(0.0);
  for (int64_t y = 0; y < h; ++y) {
    const int64_t sy = padded_index(y, s.shift_y, h, a.pad_mode);
    if (sy < 0) {
      for (int64_t x = 0; x < w; ++x) dst[y * sr + x * sp] = zero;
    } else {
      write_augmented_row(plan, plane + sy * w, dst + y * sr, w, sp, a, s, zero);
    }
  }
  if (a.cutout <= 0) return;
  for (int64_t y = std::max<int64_t>(s.cut_y, 0); y < std::min<int64_t>(s.cut_y + a.cutout, h); ++y)
    for (int64_t x = std::max<int64_t>(s.cut_x, 0); x < std::min<int64_t>(s.cut_x + a.cutout, w); ++x)
      dst[y * sr + x * sp] = zero;
}

// Up to this many channels are planned at once so that each output sample is written in one go (for NHWC its
// C interleaved planes then stay in L1); beyond it the loop runs channel by channel.
constexpr int64_t kMaxPlannedChannels = 4;

template <class T>
void gather_images_fast(const GatherNormalizeArgs& a) {
  const int64_t m = a.src.dim(0), nc = a.src.dim(1), h = a.src.dim(2), w = a.src.dim(3), n = a.indices.dim(0);
  const int64_t hw = h * w;
  const uint8_t* src = a.src.data_as<uint8_t>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  T* out = a.out.data_as<T>();
  // Both layouts address pixel p = y·W + x of a plane at p·s3 (s2 == W·s3): s3 is 1 (NCHW) or C (NHWC).
  const int64_t sn = a.out.strides()[0], sc = a.out.strides()[1], sr = a.out.strides()[2], sp = a.out.strides()[3];
  for (int64_t i = 0; i < n; ++i) checked_row(idx[i], i, m, "gather_normalize");
  auto plane_of = [&](int64_t i, int64_t c) { return src + (static_cast<int64_t>(idx[i]) * nc + c) * hw; };
  const bool augment = a.augment.enabled();
  auto write = [&](const ChannelPlan<T>& plan, int64_t i, int64_t c) {
    T* dst = out + i * sn + c * sc;
    if (augment) return write_augmented_plane(plan, plane_of(i, c), dst, h, w, sr, sp, a.augment, idx[i]);
    write_planned(plan, plane_of(i, c), dst, hw, sp);
  };
  if (nc <= kMaxPlannedChannels) {
    ChannelPlan<T> plans[kMaxPlannedChannels];
    for (int64_t c = 0; c < nc; ++c) plan_channel(plans[c], channel_mean(a, c), channel_std(a, c));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < nc; ++c) write(plans[c], i, c);
  } else {
    ChannelPlan<T> plan;
    for (int64_t c = 0; c < nc; ++c) {
      plan_channel(plan, channel_mean(a, c), channel_std(a, c));
      for (int64_t i = 0; i < n; ++i) write(plan, i, c);
    }
  }
}

void gather_features_same_dtype(const GatherNormalizeArgs& a) {
  const int64_t m = a.src.dim(0), n = a.indices.dim(0);
  const size_t row_bytes = static_cast<size_t>(a.src.dim(1)) * a.src.element_size();
  const char* src = static_cast<const char*>(a.src.data());
  char* out = static_cast<char*>(a.out.data());
  const int32_t* idx = a.indices.data_as<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = checked_row(idx[i], i, m, "gather_normalize");
    std::memcpy(out + static_cast<size_t>(i) * row_bytes, src + static_cast<size_t>(row) * row_bytes,
                row_bytes);
  }
}

bool is_image_gather(const GatherNormalizeArgs& a) {
  return a.src.dtype() == DType::kU8;
}

}  // namespace

namespace ref {
void gather_normalize(const GatherNormalizeArgs& a) {
  if (is_image_gather(a)) {
    dispatch_gather_dtype(a.out.dtype(), [&](auto t) { gather_images_ref<decltype(t)>(a); });
    return;
  }
  dispatch_gather_dtype(a.src.dtype(), [&](auto tin) {
    dispatch_gather_dtype(a.out.dtype(),
                          [&](auto tout) { gather_features_ref<decltype(tin), decltype(tout)>(a); });
  });
}

void gather_labels(const GatherLabelsArgs& a) {
  const int64_t m = a.labels.dim(0), n = a.indices.dim(0);
  const int32_t* labels = a.labels.data_as<int32_t>();
  const int32_t* idx = a.indices.data_as<int32_t>();
  int32_t* out = a.out.data_as<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = checked_row(idx[i], i, m, "gather_labels");
    const int32_t label = labels[row];
    if (a.num_classes > 0 && (label < 0 || label >= a.num_classes)) [[unlikely]]
      SPRINT_THROW(InvalidArgument, "gather_labels: label {} of sample {} is out of range [0, {})", label,
                   row, a.num_classes);
    out[i] = label;
  }
}
}  // namespace ref

void gather_normalize(const Stream& stream, const GatherNormalizeArgs& a) {
  if (context_of(stream).reference_only()) return ref::gather_normalize(a);
  if (is_image_gather(a)) {
    dispatch_gather_dtype(a.out.dtype(), [&](auto t) { gather_images_fast<decltype(t)>(a); });
  } else if (a.src.dtype() == a.out.dtype() && a.out.is_contiguous()) {
    gather_features_same_dtype(a);
  } else {
    ref::gather_normalize(
        a);  // dtype conversion of feature rows: rare, and the loop is already the simple one
  }
}

void gather_labels(const Stream&, const GatherLabelsArgs& a) {
  ref::gather_labels(a);
}

}  // namespace sprint::cpu
