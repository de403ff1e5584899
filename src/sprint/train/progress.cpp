// progress.cpp: terminal progress line.
#include "sprint/train/progress.h"

#include <algorithm>
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

namespace {
std::string bar_of(int64_t done, int64_t total) {
  constexpr int kWidth = 24;
  const int filled = total > 0 ? static_cast<int>(kWidth * std::clamp<int64_t>(done, 0, total) / total) : 0;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  return bar;
}
}  // namespace

void ProgressLine::update(int64_t steps_done, int64_t samples_done, double running_loss) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (steps_done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const std::string line =
      fmt::format("\r{} [{}] {}/{}  {:.0f} samples/s  loss {:.4f}", label_, bar_of(steps_done, total_), steps_done,
                  total_, seconds > 0 ? static_cast<double>(samples_done) / seconds : 0.0, running_loss);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressLine::task(int64_t done, std::string_view text) {
  if (!due()) return;
  last_draw_ = std::chrono::steady_clock::now();
  // \033[K clears what a longer earlier line left on the right.
  const std::string line = total_ > 0 ? fmt::format("\r{} [{}] {}/{}  {}\033[K", label_, bar_of(done, total_), done,
                                                    total_, text)
                                      : fmt::format("\r{}  {}\033[K", label_, text);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressLine::end() {
  if (!enabled_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

}  // namespace sprint::train
