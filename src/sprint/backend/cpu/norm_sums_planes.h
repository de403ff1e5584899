// norm_sums_planes.h (CPU, internal): the fast path of batch norm around its per-channel sums, for dense f32
// activations. A dense (N, C, H, W) tensor is a list of planes, each H·W runs of `width` consecutive channels:
// NHWC one plane per image (width C), channel-blocked one per image and block (width b, padding channels 0),
// NCHW one per image and channel (width 1, the pixels consecutive). Each plane's partial sums are taken in
// memory order with vectorisable loops, planes are split over threads, and partials are added in plane order, so
// the result does not depend on the thread count. Each function returns false, doing nothing, when its tensors
// are not dense f32 tensors of one layout (the caller then runs the general loops).
#pragma once

#include "sprint/backend/api/norm_sums.h"

namespace sprint::cpu {

bool planes_sums(const BatchNormSumsArgs& args, int threads);
bool planes_backward_sums(const BatchNormBackwardSumsArgs& args, int threads);
bool planes_input_grad(const BatchNormInputGradArgs& args, int threads);

}  // namespace sprint::cpu
