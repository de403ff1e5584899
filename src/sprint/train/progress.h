// progress.h: the live progress line ("epoch 1/3 [=====>   ] 512/938 1.2e5 samples/s loss 0.512"), redrawn in
// place at most ~10 times a second on stderr, and only when stderr is a terminal and $CI is unset.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sprint::train {

class ProgressLine {
 public:
  /// enabled = false turns every call into a no-op; auto_detect() says whether a terminal is attached.
  explicit ProgressLine(bool enabled);
  static bool auto_detect();

  void begin(std::string label, int64_t total_steps);
  /// Redraws if at least 100 ms passed since the last draw (or on the last step).
  void update(int64_t steps_done, int64_t samples_done, double running_loss);
  /// Clears the line.
  void end();

  /// True when update() would draw now (lets the caller skip computing running_loss otherwise).
  bool due() const;

 private:
  bool enabled_;
  std::string label_;
  int64_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sprint::train
