// max_pool_forward.h (CPU backend, internal): the f32 max-pool forward fast path (values and indices in one
// pass over NCHW or NHWC tensors), called by pool.cpp after it ruled out the reference loop.
#pragma once

#include "sprint/backend/api/pool.h"

namespace sprint::cpu {

/// x, y and indices as the ops front door validated them: 4-D, one memory format (NCHW, NHWC or channel-blocked),
/// f32 / i32.
void max_pool_forward_f32(const Stream& stream, const MaxPool2dForwardArgs& args);

}  // namespace sprint::cpu
