// schedule.h: learning-rate (and momentum) schedules with torch.optim.lr_scheduler's semantics, as functions of
// the optimizer step t (0-based: the value the t-th step uses). The trainer sets them on the optimizer before each
// step; they reach the kernels with the other per-step values (StepValue).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sprint::optim {

class Schedule {
 public:
  virtual ~Schedule() = default;
  /// Learning rate of step t (t >= 0).
  virtual double lr(int64_t t) const = 0;
  /// Momentum (SGD) or beta1 (Adam) of step t, for schedules that cycle it; nullopt leaves the optimizer's own.
  virtual std::optional<double> momentum(int64_t t) const { return std::nullopt; }
  /// False for a schedule whose values never change (a captured CUDA graph may replay it).
  virtual bool varies() const { return true; }
  virtual std::string describe() const = 0;
};

/// The base lr on every step.
std::unique_ptr<Schedule> constant_schedule(double lr);
/// StepLR: lr · gamma^floor(t / step_size).
std::unique_ptr<Schedule> step_schedule(double lr, int64_t step_size, double gamma);
/// CosineAnnealingLR (closed form): eta_min + (lr − eta_min)·(1 + cos(π·t / t_max)) / 2.
std::unique_ptr<Schedule> cosine_schedule(double lr, int64_t t_max, double eta_min);

/// Piecewise linear through (knot_steps[i], values[i]) at step t, constant beyond the first and last knots
/// (numpy.interp): cifar10-fast's PiecewiseLinear([0, 5, 24], [0, 0.4, 0]) over epochs, with knots given in
/// (fractional) steps. Knots strictly increasing, at least one.
std::unique_ptr<Schedule> piecewise_linear_schedule(std::vector<double> knot_steps, std::vector<double> values);

/// OneCycleLR (two phases, as PyTorch's default): from max_lr / div_factor up to max_lr over the first
/// pct_start of total_steps, then down to that start value / final_div_factor; momentum the other way between
/// max_momentum and base_momentum when cycle_momentum. Cosine or linear annealing.
struct OneCycleOptions {
  double max_lr = 0.1;
  int64_t total_steps = 1;
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool cosine = true;  ///< anneal_strategy 'cos' (else 'linear')
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
};
std::unique_ptr<Schedule> one_cycle_schedule(const OneCycleOptions& options);

}  // namespace sprint::optim
