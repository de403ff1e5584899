// loss.h (backend interface): log-softmax, negative log-likelihood, fused softmax cross-entropy with label
// smoothing, and the count of correct predictions. Shapes: scores/logits (N, K), target i32 (N) with values in
// [0, K), loss a 0-d f32 tensor. Reductions: kMean divides by N, kSum does not.
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

enum class Reduction : uint8_t { kMean, kSum };

struct LogSoftmaxForwardArgs {
  const Tensor& x;  ///< (N, K)
  const Tensor& y;  ///< (N, K) = x - logsumexp(x) per row
};
struct LogSoftmaxBackwardArgs {
  const Tensor& dy;  ///< (N, K)
  const Tensor& y;   ///< (N, K) forward output
  const Tensor& dx;  ///< (N, K) = dy - exp(y) * rowsum(dy)
  GradMode mode = GradMode::kOverwrite;
};
struct NllLossForwardArgs {
  const Tensor& logp;    ///< (N, K) log-probabilities
  const Tensor& target;  ///< (N) i32
  const Tensor& loss;    ///< 0-d f32 = -reduce_i logp[i, target_i]
  Reduction reduction = Reduction::kMean;
};
struct NllLossBackwardArgs {
  const Tensor& target;  ///< (N) i32
  const Tensor& dlogp;   ///< (N, K): -scale (/ N for kMean) at [i, target_i], 0 elsewhere
  Reduction reduction = Reduction::kMean;
  double scale = 1.0;  ///< gradient of the final objective w.r.t. the loss (e.g. the loss scale)
  GradMode mode = GradMode::kOverwrite;
};
struct CrossEntropyForwardArgs {
  const Tensor& logits;  ///< (N, K)
  const Tensor& target;  ///< (N) i32
  const Tensor& probs;   ///< (N, K) softmax(logits), saved for backward
  const Tensor& loss;    ///< 0-d f32
  double label_smoothing = 0.0;  ///< epsilon: target distribution (1 - eps) one-hot + eps / K
  Reduction reduction = Reduction::kMean;
};
struct CrossEntropyBackwardArgs {
  const Tensor& probs;    ///< (N, K) from forward
  const Tensor& target;   ///< (N) i32
  const Tensor& dlogits;  ///< (N, K) = scale * (probs - smoothed_target) (/ N for kMean)
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::kMean;
  double scale = 1.0;
  GradMode mode = GradMode::kOverwrite;
};
struct CountCorrectArgs {
  const Tensor& scores;   ///< (N, K); the prediction is the first arg-max of each row
  const Tensor& target;   ///< (N) i32
  const Tensor& correct;  ///< 0-d i64; the count is added to it (accumulates across batches)
};

namespace cpu {
void log_softmax_forward(const Stream& stream, const LogSoftmaxForwardArgs& args);
void log_softmax_backward(const Stream& stream, const LogSoftmaxBackwardArgs& args);
void nll_loss_forward(const Stream& stream, const NllLossForwardArgs& args);
void nll_loss_backward(const Stream& stream, const NllLossBackwardArgs& args);
void cross_entropy_forward(const Stream& stream, const CrossEntropyForwardArgs& args);
void cross_entropy_backward(const Stream& stream, const CrossEntropyBackwardArgs& args);
void count_correct(const Stream& stream, const CountCorrectArgs& args);
}  // namespace cpu

namespace cuda {
void log_softmax_forward(const Stream& stream, const LogSoftmaxForwardArgs& args);
void log_softmax_backward(const Stream& stream, const LogSoftmaxBackwardArgs& args);
void nll_loss_forward(const Stream& stream, const NllLossForwardArgs& args);
void nll_loss_backward(const Stream& stream, const NllLossBackwardArgs& args);
void cross_entropy_forward(const Stream& stream, const CrossEntropyForwardArgs& args);
void cross_entropy_backward(const Stream& stream, const CrossEntropyBackwardArgs& args);
void count_correct(const Stream& stream, const CountCorrectArgs& args);
}  // namespace cuda

}  // namespace sprint
