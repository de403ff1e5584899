// loss.h: training objectives. forward(ctx, input (N, K), target (N) i32) -> 0-d loss tensor on the device
// (reading it synchronises; accumulate on the device where that matters); backward(ctx, scale) -> d(scale·loss)/d
// input. Output buffers are reused from step to step like a Module's, per ctx.buffers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sprint/backend/api/loss.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string describe() const = 0;
  virtual Tensor forward(RunContext& ctx, const Tensor& input, const Tensor& target) = 0;
  virtual Tensor backward(RunContext& ctx, double scale = 1.0) = 0;
  /// Mean or sum over the batch.
  virtual Reduction reduction() const = 0;

 protected:
  Workspace workspace_;
};

/// Negative log-likelihood of log-probabilities (put LogSoftmax in front).
class NllLoss final : public Loss {
 public:
  explicit NllLoss(Reduction reduction = Reduction::kMean) : reduction_(reduction) {}
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& logp, const Tensor& target) override;
  Tensor backward(RunContext& ctx, double scale = 1.0) override;
  Reduction reduction() const override { return reduction_; }

 private:
  Reduction reduction_;
  struct Saved {
    Tensor logp, target;
  };
  PerBuffer<Saved> saved_;
};

/// Softmax + cross-entropy fused, with label smoothing eps: target = (1 - eps)·onehot + eps / K.
class CrossEntropyLoss final : public Loss {
 public:
  explicit CrossEntropyLoss(double label_smoothing = 0.0, Reduction reduction = Reduction::kMean);
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& logits, const Tensor& target) override;
  Tensor backward(RunContext& ctx, double scale = 1.0) override;
  Reduction reduction() const override { return reduction_; }

 private:
  double label_smoothing_;
  Reduction reduction_;
  struct Saved {
    Tensor probs, target;
  };
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
