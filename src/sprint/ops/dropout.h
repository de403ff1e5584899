// dropout.h (ops): inverted dropout front door (mask from Philox (seed, offset), see backend/api/dropout.h).
#pragma once

#include "sprint/backend/api/dropout.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

/// y = x · keep / (1 − p); y may be x itself.
void dropout_forward(const Stream& stream, const DropoutForwardArgs& args);
/// dx (args.mode) = dy · keep / (1 − p) with the forward's mask; dx may be dy itself in overwrite mode.
void dropout_backward(const Stream& stream, const DropoutBackwardArgs& args);
/// args.state[1] += args.n_words on the stream (a kernel on CUDA: capturable, so a graph advances its own
/// dropout state once per replay).
void philox_state_advance(const Stream& stream, const PhiloxStateAdvanceArgs& args);

}  // namespace sprint::ops
