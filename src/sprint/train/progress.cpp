// progress.cpp: terminal progress line.
#include "sprint/train/progress.h"

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

#include <fmt/format.h>

namespace sprint::train {

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled) {}

bool ProgressLine::auto_detect() {
  const char* ci = std::getenv("CI");
  return isatty(STDERR_FILENO) == 1 && (ci == nullptr || *ci == '\0');
}

void ProgressLine::begin(std::string label, int64_t total_steps) {
  label_ = std::move(label);
  total_ = total_steps;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - std::chrono::seconds(1);
}

bool ProgressLine::due() const {
  return enabled_ && std::chrono::steady_clock::now() - last_draw_ >= std::chrono::milliseconds(100);
}

void ProgressLine::update(int64_t steps_done, int64_t samples_done, double running_loss) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (steps_done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * steps_done / total_) : 0;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  const std::string line =
      fmt::format("\r{} [{}] {}/{}  {:.0f} samples/s  loss {:.4f}", label_, bar, steps_done, total_,
                  seconds > 0 ? static_cast<double>(samples_done) / seconds : 0.0, running_loss);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressLine::end() {
  if (!enabled_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

}  // namespace sprint::train
