// data.h (backend interface): the data-gather ops the DataLoader assembles batches with.
//   gather_normalize: images u8 (M, C, H, W) -> out (N, C, H, W) floating, out[n] = (src[idx[n]] / 255 -
//   mean[c])
//                     / std[c]; or features floating (M, F) -> out (N, F) = src[idx[n]] (no normalisation).
//                     With an enabled ImageAugment (images only) each sample is then augmented (augment.h) with
//                     the draw of its data-set index idx[n], in the same pass.
//   gather_labels:    labels i32 (M) -> out i32 (N) = labels[idx[n]].
// Shared by cpu:: and cuda:: implementations; the ops/ front door validates shapes, dtypes and layouts.
#pragma once

#include <cstdint>
#include <span>

#include "sprint/backend/api/augment.h"
#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

struct GatherNormalizeArgs {
  const Tensor& src;      ///< u8 (M, C, H, W) contiguous images, or floating (M, F) contiguous features
  const Tensor& indices;  ///< i32 (N), contiguous, each in [0, M)
  /// Images: (N, C, H, W) f32/f64/f16/bf16, contiguous or channels-last (its strides decide the layout
  /// written). Features: (N, F) floating, contiguous. Overwritten; must not alias src or indices.
  const Tensor& out;
  std::span<const float> mean = {};  ///< images: C per-channel means (of x / 255), or empty for 0
  std::span<const float> std = {};   ///< images: C per-channel standard deviations, or empty for 1
  /// Images only: the training augmentation of this epoch (off by default). The draw of output row n is
  /// augment_draw(augment, indices[n], H, W): it depends on the sample, never on its position in the batch.
  ImageAugment augment = {};
};

struct GatherLabelsArgs {
  const Tensor& labels;   ///< i32 (M), contiguous
  const Tensor& indices;  ///< i32 (N), contiguous, each in [0, M)
  const Tensor& out;      ///< i32 (N), contiguous, overwritten
  /// > 0: every gathered label must lie in [0, num_classes) (the CPU backend throws InvalidArgument
  /// otherwise).
  int64_t num_classes = 0;
};

namespace cpu {
/// Fast path: a per-channel lookup table of the 256 possible outputs (bit-identical to the reference).
void gather_normalize(const Stream& stream, const GatherNormalizeArgs& args);
void gather_labels(const Stream& stream, const GatherLabelsArgs& args);
namespace ref {
/// Plain loops in double over out's strides: the oracle.
void gather_normalize(const GatherNormalizeArgs& args);
void gather_labels(const GatherLabelsArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void gather_normalize(const Stream& stream, const GatherNormalizeArgs& args);
void gather_labels(const Stream& stream, const GatherLabelsArgs& args);
}  // namespace cuda

}  // namespace sprint
