// process.cpp: posix_spawnp-based program runner with output capture, and ScopedTempDir.
#include "sprint/data/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "sprint/core/error.h"

extern char** environ;

namespace sprint::data {
namespace {

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

// The inherited environment with `extra` entries replacing those of the same name.
std::vector<std::string> merged_environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    const std::string entry(*e);
    bool replaced = false;
    for (const std::string& x : extra) replaced = replaced || name_of(x) == name_of(entry);
    if (!replaced) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// RAII for posix_spawn_file_actions_t.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

}  // namespace

std::string file_tail(const std::filesystem::path& path, int max_lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 4096 ? size - 4096 : 0;
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  size_t pos = text.size();
  for (int lines = 0; lines < max_lines && pos != std::string::npos && pos > 0; ++lines)
    pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos || pos == 0 ? text : text.substr(pos + 1);
}

void run_program(const ProgramRun& run) {
  if (run.argv.empty()) SPRINT_THROW(InvalidArgument, "run_program: empty argument vector");
  const std::string cmd = command_line(run.argv);
  std::vector<char*> argv;
  for (const std::string& a : run.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::vector<std::string> env_strings = merged_environment(run.env);
  std::vector<char*> envp;
  for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const std::string log = run.log_path.string();
  const std::string cwd = run.cwd.string();
  FileActions actions;
  const std::string input = run.stdin_path.empty() ? std::string("/dev/null") : run.stdin_path.string();
  posix_spawn_file_actions_addopen(actions.get(), 0, input.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(actions.get(), 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(actions.get(), 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(actions.get(), cwd.c_str());

  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], actions.get(), nullptr, argv.data(), envp.data());
  if (rc == ENOENT) {
    SPRINT_THROW(IoError, "{} not found on PATH{}", run.argv[0],
                 run.install_hint.empty() ? std::string() : ": install it (" + run.install_hint + ")");
  }
  if (rc != 0) SPRINT_THROW(IoError, "cannot run `{}`: {}", cmd, std::strerror(rc));

  int status = 0;
  const int wait_flags = run.while_running ? WNOHANG : 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, wait_flags);
    if (done == pid) break;
    if (done < 0) {
      if (errno == EINTR) continue;
      SPRINT_THROW(IoError, "waiting for `{}` failed: {}", cmd, std::strerror(errno));
    }
    try {  // still running (WNOHANG)
      run.while_running();
    } catch (...) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  const std::string how = WIFEXITED(status)     ? fmt::format("exit status {}", WEXITSTATUS(status))
                          : WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                                : std::string("unknown status");
  const std::string tail = file_tail(run.log_path);
  SPRINT_THROW(IoError, "`{}` failed ({}){}", cmd, how, tail.empty() ? std::string() : ":\n" + tail);
}

ScopedTempDir::ScopedTempDir(const std::filesystem::path& parent, std::string_view prefix) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  if (!mkdtemp(pattern.data()))
    SPRINT_THROW(IoError, "cannot create a temporary directory in {}: {}", parent.string(),
                 std::strerror(errno));
  path_ = pattern;
}

ScopedTempDir::~ScopedTempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sprint::data
