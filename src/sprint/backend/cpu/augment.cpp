// augment.cpp (CPU): the augmentation oracle (augment_sample, written step by step as numpy would: flip, pad,
// crop, cutout) and translate_flip, the test-time views: a reference over every element and a fast path that
// copies rows through a precomputed column map. Views move values without arithmetic, so both paths copy the
// bytes of each element: every dtype works, bit for bit.
#include <algorithm>
#include <cstring>
#include <vector>

#include "sprint/backend/api/augment.h"
#include "sprint/core/error.h"

namespace sprint::cpu {
namespace ref {

void augment_sample(std::span<const double> in, std::span<double> out, int64_t c, int64_t h, int64_t w,
                    const ImageAugment& a, const SampleAugment& s) {
  const int64_t r = a.crop_padding;
  SPRINT_CHECK(static_cast<int64_t>(in.size()) == c * h * w && out.size() == in.size(),
               "augment_sample: in and out need C·H·W = {} values, got {} and {}", c * h * w, in.size(), out.size());
  SPRINT_CHECK(s.shift_y >= -r && s.shift_y <= r && s.shift_x >= -r && s.shift_x <= r,
               "augment_sample: shift ({}, {}) exceeds the padding {}", s.shift_y, s.shift_x, r);
  const int64_t ph = h + 2 * r, pw = w + 2 * r;
  std::vector<double> flipped(in.size()), padded(static_cast<size_t>(c * ph * pw));
  // 1. flip: x[:, :, ::-1]
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        flipped[static_cast<size_t>((ch * h + y) * w + x)] =
            in[static_cast<size_t>((ch * h + y) * w + (s.flip ? w - 1 - x : x))];
  // 2. numpy.pad(flipped, ((0, 0), (r, r), (r, r)), mode)
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t px = 0; px < pw; ++px) {
        int64_t y = py - r, x = px - r;
        double v = 0.0;
        const bool inside = y >= 0 && y < h && x >= 0 && x < w;
        switch (a.pad_mode) {
          case CropPadMode::kReflect:
            y = y < 0 ? -y : (y >= h ? 2 * (h - 1) - y : y);
            x = x < 0 ? -x : (x >= w ? 2 * (w - 1) - x : x);
            v = flipped[static_cast<size_t>((ch * h + y) * w + x)];
            break;
          case CropPadMode::kZero:
            v = inside ? flipped[static_cast<size_t>((ch * h + y) * w + x)] : 0.0;
            break;
        }
        padded[static_cast<size_t>((ch * ph + py) * pw + px)] = v;
      }
  // 3. crop padded[:, r + dy : r + dy + H, r + dx : r + dx + W]
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        out[static_cast<size_t>((ch * h + y) * w + x)] =
            padded[static_cast<size_t>((ch * ph + y + r + s.shift_y) * pw + x + r + s.shift_x)];
  // 4. cutout: out[:, max(cy0, 0) : cy0 + size, max(cx0, 0) : cx0 + size] = 0
  if (a.cutout <= 0) return;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t y = std::max<int64_t>(s.cut_y, 0); y < std::min<int64_t>(s.cut_y + a.cutout, h); ++y)
      for (int64_t x = std::max<int64_t>(s.cut_x, 0); x < std::min<int64_t>(s.cut_x + a.cutout, w); ++x)
        out[static_cast<size_t>((ch * h + y) * w + x)] = 0.0;
}

void translate_flip(const TranslateFlipArgs& a) {
  const int64_t n = a.x.dim(0), c = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3);
  const size_t es = a.x.element_size();
  const Strides& si = a.x.strides();
  const Strides& so = a.out.strides();
  const auto* src = static_cast<const char*>(a.x.data());
  auto* dst = static_cast<char*>(a.out.data());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const int64_t sy = reflect_index(y + a.shift_y, h);
          const int64_t sx = reflect_index((a.flip ? w - 1 - x : x) + a.shift_x, w);
          std::memcpy(dst + static_cast<size_t>(i * so[0] + ch * so[1] + y * so[2] + x * so[3]) * es,
                      src + static_cast<size_t>(i * si[0] + ch * si[1] + sy * si[2] + sx * si[3]) * es, es);
        }
}

}  // namespace ref

namespace {

// One output row of `w` pixels of `pixel` bytes each: dst pixel x = src pixel columns[x].
template <size_t kBytes>
void copy_row(const char* src, char* dst, const std::vector<int64_t>& columns, size_t pixel) {
  if constexpr (kBytes > 0) {
    for (size_t x = 0; x < columns.size(); ++x)
      std::memcpy(dst + x * kBytes, src + static_cast<size_t>(columns[x]) * kBytes, kBytes);
  } else {
    for (size_t x = 0; x < columns.size(); ++x)
      std::memcpy(dst + x * pixel, src + static_cast<size_t>(columns[x]) * pixel, pixel);
  }
}

}  // namespace

void translate_flip(const Stream&, const TranslateFlipArgs& a) {
  const int64_t n = a.x.dim(0), c = a.x.dim(1), h = a.x.dim(2), w = a.x.dim(3);
  std::vector<int64_t> columns(static_cast<size_t>(w));
  for (int64_t x = 0; x < w; ++x) columns[static_cast<size_t>(x)] = translate_flip_column(x, a.shift_x, w, a.flip);
  const size_t es = a.x.element_size();
  const auto* src = static_cast<const char*>(a.x.data());
  auto* dst = static_cast<char*>(a.out.data());
  // NCHW: a row is W elements of one channel; NHWC: W pixels of C interleaved channels. Rows are `planes` × H.
  const bool nhwc = a.x.is_channels_last() && !a.x.is_contiguous();
  const int64_t planes = nhwc ? n : n * c;
  const size_t pixel = nhwc ? static_cast<size_t>(c) * es : es;
  const size_t row_bytes = pixel * static_cast<size_t>(w);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < h; ++y) {
      const char* srow = src + (static_cast<size_t>(p * h + reflect_index(y + a.shift_y, h))) * row_bytes;
      char* drow = dst + static_cast<size_t>(p * h + y) * row_bytes;
      switch (pixel) {
        case 2: copy_row<2>(srow, drow, columns, pixel); break;
        case 4: copy_row<4>(srow, drow, columns, pixel); break;
        case 8: copy_row<8>(srow, drow, columns, pixel); break;
        default: copy_row<0>(srow, drow, columns, pixel); break;
      }
    }
}

}  // namespace sprint::cpu
