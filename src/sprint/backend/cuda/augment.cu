// augment.cu (CUDA): translate_flip, the test-time views: out = mirror?(translate(x)) with reflect borders. One
// thread per output element; elements are copied as raw 2/4/8-byte words (no arithmetic: every dtype, bit for
// bit). The index arithmetic is augment.h's, shared with the CPU backend.
#include "sprint/backend/api/augment.h"
#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"

namespace sprint::cuda {
namespace {

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

// i runs over the output in memory order of `layout`; (n, c, y, x) are decoded from it.
template <class Word>
__global__ void translate_flip_kernel(const Word* __restrict__ x, Word* __restrict__ out, int64_t total, int64_t c,
                                      int64_t h, int64_t w, ImageLayout layout, int shift_y, int shift_x, bool flip) {
  SPRINT_GRID_STRIDE_LOOP(i, total) {
    int64_t n, ch, y, col;
    if (layout == ImageLayout::kNHWC) {
      ch = i % c;
      const int64_t p = i / c;
      col = p % w;
      y = (p / w) % h;
      n = p / (w * h);
    } else {
      col = i % w;
      y = (i / w) % h;
      ch = (i / (w * h)) % c;
      n = i / (w * h * c);
    }
    const int64_t sy = reflect_index(y + shift_y, h);
    const int64_t sx = translate_flip_column(col, shift_x, w, flip);
    const int64_t source =
        layout == ImageLayout::kNHWC ? ((n * h + sy) * w + sx) * c + ch : ((n * c + ch) * h + sy) * w + sx;
    out[i] = x[source];
  }
}

template <class Word>
void launch_translate_flip(const TranslateFlipArgs& a, ImageLayout layout, cudaStream_t stream) {
  const int64_t total = a.x.numel();
  translate_flip_kernel<Word><<<blocks_for(total), kThreads, 0, stream>>>(
      static_cast<const Word*>(a.x.data()), static_cast<Word*>(a.out.data()), total, a.x.dim(1), a.x.dim(2),
      a.x.dim(3), layout, a.shift_y, a.shift_x, a.flip);
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

void translate_flip(const Stream& stream, const TranslateFlipArgs& a) {
  OpScope scope(stream, "translate_flip");
  if (a.x.numel() == 0) return;
  const ImageLayout layout = image_layout({&a.x, &a.out}, "translate_flip");
  switch (a.x.element_size()) {
    case 2: launch_translate_flip<uint16_t>(a, layout, scope.stream()); break;
    case 4: launch_translate_flip<uint32_t>(a, layout, scope.stream()); break;
    case 8: launch_translate_flip<uint64_t>(a, layout, scope.stream()); break;
    default:
      SPRINT_THROW(Unsupported, "translate_flip on CUDA copies 2-, 4- or 8-byte elements, got {}",
                   dtype_name(a.x.dtype()));
  }
  SPRINT_CUDA_CHECK_LAUNCH("translate_flip");
}

}  // namespace sprint::cuda
