// run_command.cpp: child-process runner for the CLI tests (posix_spawn, output captured through temp files).
#include "run_command.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <csignal>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data_test_util.h"
#include "support/test_util.h"

extern char** environ;

namespace sprint::testing {
namespace {
std::string read_text_file_impl(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

std::string read_text_file(const std::string& path) { return read_text_file_impl(path); }

int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

CommandResult run_sprint(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  return run_program(SPRINT_BINARY, args, env);
}

CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env, const std::function<void()>& while_running) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(std::rand());
  const auto out_path = dir / ("sprint-out-" + tag), err_path = dir / ("sprint-err-" + tag);
  std::vector<std::string> argv_s{program};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  CommandResult r;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) == 0) {
    if (while_running) while_running();
    int status = 0;
    waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  posix_spawn_file_actions_destroy(&actions);
  r.out = read_text_file_impl(out_path);
  r.err = read_text_file_impl(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return r;
}

bool run_sprint_and_kill(const std::vector<std::string>& args, const std::function<bool()>& ready, int delay_ms) {
  return run_sprint_and_signal(args, ready, delay_ms, SIGKILL) == 128 + SIGKILL;
}

int run_sprint_and_signal(const std::vector<std::string>& args, const std::function<bool()>& ready, int delay_ms,
                          int sig) {
  std::vector<std::string> argv_s{SPRINT_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  bool armed = false;
  auto deadline = std::chrono::steady_clock::now();
  while (true) {
    if (waitpid(pid, &status, WNOHANG) == pid) return -1;  // finished before the signal
    const auto now = std::chrono::steady_clock::now();
    if (!armed && ready()) {
      armed = true;
      deadline = now + std::chrono::milliseconds(delay_ms);
    }
    if (armed && now >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, sig);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string fashion_mnist_data_dir() {
  std::vector<std::filesystem::path> candidates;
  if (const char* d = std::getenv("SPRINT_DATA")) candidates.emplace_back(d);
  if (const char* h = std::getenv("HOME")) candidates.emplace_back(std::filesystem::path(h) / ".cache" / "sprint");
  for (const auto& c : candidates)
    if (std::filesystem::exists(c / "fashion-mnist" / "train-images-idx3-ubyte.gz") ||
        std::filesystem::exists(c / "fashion-mnist" / "train-images-idx3-ubyte"))
      return c.string();
  return "";
}

std::filesystem::path write_blank_fashion_mnist(const std::filesystem::path& root) {
  const auto dir = root / "fashion-mnist";
  std::filesystem::create_directories(dir);
  auto blank = [](uint32_t, uint32_t) -> uint8_t { return 0; };
  for (auto [prefix, n] : {std::pair<std::string, uint32_t>{"train", 60000}, {"t10k", 10000}}) {
    write_file(dir / (prefix + "-images-idx3-ubyte.gz"), gzip(idx_images(n, 28, 28, blank)));
    std::vector<uint8_t> labels(n);
    for (uint32_t i = 0; i < n; ++i) labels[i] = static_cast<uint8_t>(i % 10);
    write_file(dir / (prefix + "-labels-idx1-ubyte.gz"), gzip(idx_labels(labels)));
  }
  return root;
}

}  // namespace sprint::testing
