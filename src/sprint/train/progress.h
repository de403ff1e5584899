// progress.h: the live progress line ("epoch 1/3 [=====>   ] 512/938 1.2e5 samples/s loss 0.512", or for a list
// of tasks "bench optimizations [==>     ] 2/14  + amp, run 1: 12 s"), redrawn in place at most ~10 times a second
// on stderr, and only when stderr is a terminal and $CI is unset (or when forced on).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

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

  /// A task list's line: "label [bar] done/total  text" ("label  text" when total_steps was 0), throttled as
  /// update() is. `text` names the running task and its elapsed time.
  void task(int64_t done, std::string_view text);

  /// True when update() would draw now (lets the caller skip computing running_loss otherwise).
  bool due() const;

 private:
  bool enabled_;
  std::string label_;
  int64_t total_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sprint::train
