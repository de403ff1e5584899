// data.h (ops): front door of the data-gather ops the DataLoader builds batches with. Validates shapes,
// dtypes, layouts, devices and aliasing once, then dispatches to the backend of the stream's device. Shapes:
// src images u8 (M, C, H, W) or features (M, F); indices i32 (N); out (N, C, H, W) or (N, F).
#pragma once

#include "sprint/backend/api/data.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// out[n] = (src[indices[n]] / 255 - mean[c]) / std[c] for u8 images (mean/std: C entries each, or both empty
/// for x / 255), written in out's layout (contiguous or channels-last); for floating features out[n] =
/// src[indices[n]] converted to out's dtype (mean/std must be empty). out is overwritten and must not alias
/// the inputs. Index range is checked by the CPU backend (InvalidArgument).
void gather_normalize(const Stream& stream, const GatherNormalizeArgs& args);

/// out[n] = labels[indices[n]]; with args.num_classes > 0 the CPU backend also checks each label's range.
void gather_labels(const Stream& stream, const GatherLabelsArgs& args);

}  // namespace sprint::ops
