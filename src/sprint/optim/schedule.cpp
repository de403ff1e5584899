// schedule.cpp: the schedules of schedule.h, each a closed form of its step (no state, so resuming at step t
// gives step t's value).
#include "sprint/optim/schedule.h"

#include <cmath>
#include <numbers>

#include "sprint/core/error.h"

namespace sprint::optim {
namespace {

class Constant final : public Schedule {
 public:
  explicit Constant(double lr) : lr_(lr) {}
  double lr(int64_t) const override { return lr_; }
  bool varies() const override { return false; }
  std::string describe() const override { return fmt::format("constant lr {}", lr_); }

 private:
  double lr_;
};

class Step final : public Schedule {
 public:
  Step(double lr, int64_t step_size, double gamma) : lr_(lr), step_size_(step_size), gamma_(gamma) {}
  double lr(int64_t t) const override { return lr_ * std::pow(gamma_, static_cast<double>(t / step_size_)); }
  std::string describe() const override {
    return fmt::format("step lr {} x {} every {} steps", lr_, gamma_, step_size_);
  }

 private:
  double lr_;
  int64_t step_size_;
  double gamma_;
};

class Cosine final : public Schedule {
 public:
  Cosine(double lr, int64_t t_max, double eta_min) : lr_(lr), t_max_(t_max), eta_min_(eta_min) {}
  double lr(int64_t t) const override {
    const double phase = std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max_);
    return eta_min_ + (lr_ - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
  }
  std::string describe() const override {
    return fmt::format("cosine lr {} to {} over {} steps", lr_, eta_min_, t_max_);
  }

 private:
  double lr_;
  int64_t t_max_;
  double eta_min_;
};

class PiecewiseLinear final : public Schedule {
 public:
  PiecewiseLinear(std::vector<double> steps, std::vector<double> values)
      : steps_(std::move(steps)), values_(std::move(values)) {}
  double lr(int64_t step) const override {
    const double t = static_cast<double>(step);
    if (t <= steps_.front()) return values_.front();
    for (size_t i = 1; i < steps_.size(); ++i)
      if (t <= steps_[i])
        return values_[i - 1] + (values_[i] - values_[i - 1]) * (t - steps_[i - 1]) / (steps_[i] - steps_[i - 1]);
    return values_.back();
  }
  bool varies() const override {
    for (double v : values_)
      if (v != values_.front()) return true;
    return false;
  }
  std::string describe() const override {
    std::string knots;
    for (size_t i = 0; i < steps_.size(); ++i)
      knots += fmt::format("{}{:.6g}@{:.6g}", i ? ", " : "", values_[i], steps_[i]);
    return fmt::format("piecewise-linear lr {} (lr@step)", knots);
  }

 private:
  std::vector<double> steps_, values_;
};

class OneCycle final : public Schedule {
 public:
  explicit OneCycle(const OneCycleOptions& o) : o_(o) {
    initial_lr_ = o.max_lr / o.div_factor;
    min_lr_ = initial_lr_ / o.final_div_factor;
    // PyTorch's phase boundaries: the first phase ends at step pct_start·total − 1, the second at total − 1.
    first_end_ = o.pct_start * static_cast<double>(o.total_steps) - 1.0;
    last_end_ = static_cast<double>(o.total_steps) - 1.0;
  }
  double lr(int64_t t) const override { return value(t, initial_lr_, o_.max_lr, min_lr_); }
  std::optional<double> momentum(int64_t t) const override {
    if (!o_.cycle_momentum) return std::nullopt;
    return value(t, o_.max_momentum, o_.base_momentum, o_.max_momentum);
  }
  std::string describe() const override {
    return fmt::format("one-cycle lr {} to {} to {} over {} steps ({} {:.0f}%){}", initial_lr_, o_.max_lr, min_lr_,
                       o_.total_steps, o_.cosine ? "cosine" : "linear", 100.0 * o_.pct_start,
                       o_.cycle_momentum ? fmt::format(", momentum {} to {}", o_.max_momentum, o_.base_momentum)
                                         : std::string());
  }

 private:
  double anneal(double start, double end, double pct) const {
    if (o_.cosine) return end + (start - end) / 2.0 * (1.0 + std::cos(std::numbers::pi * pct));
    return (end - start) * pct + start;
  }
  /// Phase 1 from `start` to `peak` over [0, first_end], phase 2 from `peak` to `end` over [first_end, last_end].
  double value(int64_t step, double start, double peak, double end) const {
    const double t = static_cast<double>(step);
    if (t <= first_end_) return anneal(start, peak, first_end_ > 0.0 ? t / first_end_ : 1.0);
    return anneal(peak, end, (t - first_end_) / (last_end_ - first_end_));
  }

  OneCycleOptions o_;
  double initial_lr_ = 0.0, min_lr_ = 0.0, first_end_ = 0.0, last_end_ = 0.0;
};

}  // namespace

std::unique_ptr<Schedule> constant_schedule(double lr) {
  SPRINT_CHECK(lr >= 0.0, "learning rate must be >= 0, got {}", lr);
  return std::make_unique<Constant>(lr);
}

std::unique_ptr<Schedule> step_schedule(double lr, int64_t step_size, double gamma) {
  SPRINT_CHECK(lr >= 0.0 && step_size >= 1 && gamma > 0.0,
               "step schedule needs lr >= 0, step size >= 1 and gamma > 0; got {}, {}, {}", lr, step_size, gamma);
  return std::make_unique<Step>(lr, step_size, gamma);
}

std::unique_ptr<Schedule> cosine_schedule(double lr, int64_t t_max, double eta_min) {
  SPRINT_CHECK(lr >= 0.0 && t_max >= 1 && eta_min >= 0.0,
               "cosine schedule needs lr >= 0, t_max >= 1 and eta_min >= 0; got {}, {}, {}", lr, t_max, eta_min);
  return std::make_unique<Cosine>(lr, t_max, eta_min);
}

std::unique_ptr<Schedule> piecewise_linear_schedule(std::vector<double> knot_steps, std::vector<double> values) {
  SPRINT_CHECK(!knot_steps.empty() && knot_steps.size() == values.size(),
               "piecewise-linear schedule needs as many values as knots (at least one), got {} and {}",
               knot_steps.size(), values.size());
  for (size_t i = 0; i < knot_steps.size(); ++i) {
    SPRINT_CHECK(values[i] >= 0.0 && std::isfinite(values[i]), "piecewise-linear lr {} is not a finite value >= 0",
                 values[i]);
    SPRINT_CHECK(i == 0 || knot_steps[i] > knot_steps[i - 1], "piecewise-linear knots must increase, got {} after {}",
                 knot_steps[i], i ? knot_steps[i - 1] : 0.0);
  }
  return std::make_unique<PiecewiseLinear>(std::move(knot_steps), std::move(values));
}

std::unique_ptr<Schedule> one_cycle_schedule(const OneCycleOptions& o) {
  SPRINT_CHECK(o.max_lr >= 0.0 && o.total_steps >= 2, "one-cycle schedule needs max lr >= 0 and >= 2 steps, got {}, {}",
               o.max_lr, o.total_steps);
  SPRINT_CHECK(o.pct_start > 0.0 && o.pct_start < 1.0, "one-cycle pct_start must be in (0, 1), got {}", o.pct_start);
  SPRINT_CHECK(o.div_factor > 0.0 && o.final_div_factor > 0.0, "one-cycle div factors must be > 0");
  // PyTorch requires the second phase to be non-empty: its end (total - 1) beyond the first one's.
  SPRINT_CHECK(o.pct_start * static_cast<double>(o.total_steps) - 1.0 < static_cast<double>(o.total_steps) - 1.0,
               "one-cycle schedule: pct_start {} leaves no annealing phase", o.pct_start);
  return std::make_unique<OneCycle>(o);
}

}  // namespace sprint::optim
