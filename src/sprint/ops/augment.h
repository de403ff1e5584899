// augment.h (ops): front door of the image-augmentation ops: translate_flip (the test-time views) and the
// validation of an ImageAugment, shared with gather_normalize. Shapes: (N, C, H, W), NCHW or NHWC.
#pragma once

#include "sprint/backend/api/augment.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// out = mirror?(translate(x)) (backend/api/augment.h). out has x's shape, dtype and memory format and must not
/// overlap x; |shift_y| < H, |shift_x| < W. Any floating dtype; values are copied bit for bit.
void translate_flip(const Stream& stream, const TranslateFlipArgs& args);

/// Throws InvalidArgument unless `augment` can run on (h, w) images: crop_padding in [0, min(H, W)) (reflection
/// needs a padding below the side; zero borders take the same bound), cutout >= 0. `op` prefixes the message.
void check_augment(const ImageAugment& augment, int64_t h, int64_t w, const char* op);

}  // namespace sprint::ops
