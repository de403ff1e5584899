// batch_norm.h: BatchNorm2d, x (N, C, H, W) -> y in x's memory format. Training normalises with batch statistics
// and updates the running ones (PyTorch's momentum convention); eval uses the running statistics. In a
// data-parallel job whose RunContext carries a ReplicaSum (nn/replica_sum.h), training normalises with the
// statistics of every replica's batch together (PyTorch's SyncBatchNorm): two sums over the replicas per step,
// one in forward and one in backward. Scale (gamma,
// "weight") and shift (beta, "bias") are optional; per-channel tensors are f32 (f64 for f64 layers).
#pragma once

#include "sprint/nn/layer_util.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

struct BatchNormOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;  ///< weight of the new batch statistic in the running average (PyTorch convention)
  bool affine = true;     ///< learnable shift (and scale unless trainable_scale is off)
  bool trainable_scale = true;  ///< false: no scale at all (fixed at 1), as airbench's BN
  bool track_running_stats = true;
  DType dtype = DType::kF32;  ///< activation dtype

  explicit BatchNormOptions(int64_t features) : num_features(features) {}
  BatchNormOptions& with_eps(double e) { eps = e; return *this; }
  BatchNormOptions& with_momentum(double m) { momentum = m; return *this; }
  BatchNormOptions& with_affine(bool on) { affine = on; return *this; }
  BatchNormOptions& with_trainable_scale(bool on) { trainable_scale = on; return *this; }
  BatchNormOptions& with_track_running_stats(bool on) { track_running_stats = on; return *this; }
  BatchNormOptions& with_dtype(DType d) { dtype = d; return *this; }
};

class BatchNorm2d final : public Module {
 public:
  /// gamma = 1, beta = 0, running_mean = 0, running_var = 1, on the host.
  explicit BatchNorm2d(const BatchNormOptions& options);

  std::string type_name() const override { return "BatchNorm2d"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

  const ParameterPtr& weight() const { return gamma_; }  ///< null without a scale
  const ParameterPtr& bias() const { return beta_; }     ///< null when not affine
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }
  const BatchNormOptions& options() const { return options_; }

 private:
  struct Saved {
    Tensor x, mean, invstd;
    bool batch_stats = true;
    bool synchronised = false;  // normalised with every replica's batch (RunContext::replica_sum)
  };
  void backward_synchronised(RunContext& ctx, const Tensor& dy, const Saved& s, const Tensor& dx, GradMode g_mode,
                             GradMode b_mode, bool split);

  BatchNormOptions options_;
  ParameterPtr gamma_, beta_;
  Tensor running_mean_, running_var_;
  int64_t num_batches_tracked_ = 0;  // training forwards that updated the running statistics (PyTorch's buffer)
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
