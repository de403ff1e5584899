// process.h: running external programs (the fetcher's apt-get, dpkg-deb, npm, tar; the plots' gnuplot) with
// posix_spawnp and an argument vector, never a shell string; plus a self-removing temporary directory.
// Output (stdout + stderr) goes to a log file whose tail is quoted in error messages.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sprint::data {

struct ProgramRun {
  std::vector<std::string> argv;          ///< argv[0] is looked up on PATH
  std::filesystem::path cwd;              ///< working directory of the child
  std::filesystem::path log_path;         ///< receives the child's stdout and stderr (truncated first)
  std::vector<std::string> env = {};      ///< extra "NAME=value" entries, overriding the inherited environment
  std::string install_hint = {};          ///< shown when argv[0] is not found, e.g. "apt-get install npm"
  std::filesystem::path stdin_path = {};  ///< the child's stdin (opened read-only); empty: /dev/null
  /// Called about every 100 ms while the program runs (a live progress line); may be empty. When it throws, the
  /// child is killed and waited for, and the exception propagates.
  std::function<void()> while_running = {};
};

/// Runs the program and waits for it; stdin is run.stdin_path, else /dev/null. Throws IoError when the program
/// cannot be started ("npm not found on PATH: install it (apt-get install npm)") or does not exit with status 0
/// (the message holds the command line, the status and the last lines of its output).
void run_program(const ProgramRun& run);

/// The last `max_lines` lines (at most 4 KiB) of a text file, or "" when it cannot be read.
std::string file_tail(const std::filesystem::path& path, int max_lines = 15);

/// A fresh directory `<parent>/<prefix>XXXXXX` (mkdtemp), removed with its content on destruction.
class ScopedTempDir {
 public:
  ScopedTempDir(const std::filesystem::path& parent, std::string_view prefix);
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sprint::data
