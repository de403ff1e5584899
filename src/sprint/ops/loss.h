// loss.h (ops): log-softmax, NLL, fused softmax cross-entropy (label smoothing), correct-prediction count.
// Shapes: (N, K) scores, (N) i32 targets, 0-d f32 loss.
#pragma once

#include "sprint/backend/api/loss.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

void log_softmax_forward(const Stream& stream, const LogSoftmaxForwardArgs& args);
void log_softmax_backward(const Stream& stream, const LogSoftmaxBackwardArgs& args);
void nll_loss_forward(const Stream& stream, const NllLossForwardArgs& args);
void nll_loss_backward(const Stream& stream, const NllLossBackwardArgs& args);
void cross_entropy_forward(const Stream& stream, const CrossEntropyForwardArgs& args);
void cross_entropy_backward(const Stream& stream, const CrossEntropyBackwardArgs& args);
/// Adds the number of rows whose arg-max equals the target to `correct` (0-d i64).
void count_correct(const Stream& stream, const CountCorrectArgs& args);

}  // namespace sprint::ops
