// run_command.h: runs the sprint binary in a child process and captures exit code, stdout and stderr; plus the
// files the e2e tests share (a file reader, a blank FashionMNIST stand-in).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sprint::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs SPRINT_BINARY with `args` (no shell), extra environment entries "NAME=value" appended.
CommandResult run_sprint(const std::vector<std::string>& args, const std::vector<std::string>& env = {});
/// Runs `program` (a path) with `args` the same way; `while_running` (if any) is called once the child started,
/// before waiting for it.
CommandResult run_program(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& env = {}, const std::function<void()>& while_running = {});

/// Runs SPRINT_BINARY with `args` (output discarded) and sends it SIGKILL `delay_ms` milliseconds after `ready()`
/// first returns true (polled every 2 ms). Returns true when the kill landed, false when the child exited first.
bool run_sprint_and_kill(const std::vector<std::string>& args, const std::function<bool()>& ready, int delay_ms);
/// As run_sprint_and_kill with signal `sig`; returns the exit code (128 + signal when the signal ended it, -1 when
/// the child finished before the signal was sent).
int run_sprint_and_signal(const std::vector<std::string>& args, const std::function<bool()>& ready, int delay_ms,
                          int sig);

/// The whole content of a file ("" when it cannot be read).
std::string read_text_file(const std::string& path);

/// Number of '\n' in `s` (the CLI's errors are one line).
int count_lines(const std::string& s);

/// A FashionMNIST stand-in of blank 28x28 images under root/fashion-mnist (full-size files, as the loader checks
/// the counts; gzip keeps them small), for runs that need image data but not real images. Returns `root`, the
/// --data-dir to pass.
std::filesystem::path write_blank_fashion_mnist(const std::filesystem::path& root);

/// Real-data tests: the FashionMNIST directory, or "" when absent (tests then skip, or fail when
/// SPRINT_REQUIRE_DATA=1, as `make test` sets).
std::string fashion_mnist_data_dir();

}  // namespace sprint::testing
