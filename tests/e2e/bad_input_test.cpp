// bad_input_test.cpp: what a user meets when things go wrong, through the `sprint` binary: numbers parsed strictly
// in decimal, an unknown command named, one error line per failure with the exit code of its class (README
// "Errors"), sprint's source locations only with --log-level debug, a diverging run stopped with exit code 6 and
// a report saying so, and SIGINT ending a run after the current step with a checkpoint it resumes from.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& p) {
  std::ifstream in(p);
  return nlohmann::json::parse(in);
}

std::vector<std::string> tiny(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"train", "--dataset", "random", "--model", "mlp2", "--samples", "200",
                                   "--progress", "off"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(BadInput, NumbersAreStrictlyDecimal) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--batch-size", "010"}, "--batch-size: expected a whole number from 1 to 1048576, got 010"},
      {{"--batch-size", "0x10"}, "got 0x10"},
      {{"--batch-size", "1.5"}, "expected a whole number"},
      {{"--seed", "-1"}, "--seed: expected a whole number from 0 to 18446744073709551615, got -1"},
      {{"--seed", "18446744073709551616"}, "got 18446744073709551616"},
      {{"--epochs", "abc"}, "--epochs: expected a decimal number, got abc"},
      {{"--lr", "1e-2x"}, "--lr: expected a decimal number"},
      {{"--keep", "0"}, "--keep: expected a whole number from 1"},
  };
  for (const auto& [extra, says] : cases) {
    CommandResult r = run_sprint(tiny(extra));
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1];
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
  // A leading zero on a real number is still decimal: 010 epochs are ten.
  CommandResult ten = run_sprint(tiny({"--epochs", "010", "--samples", "20"}));
  ASSERT_EQ(ten.exit_code, 0) << ten.err;
  EXPECT_NE(ten.out.find("\n   10 "), std::string::npos) << ten.out;
}

TEST(BadInput, UnknownCommandIsNamed) {
  CommandResult r = run_sprint({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos) << r.err;
  r = run_sprint({"train", "--no-such-option"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(BadInput, SourceLocationsOnlyWithDebugLogging) {
  CommandResult r = run_sprint(tiny({"--checkpoint-every", "5"}));  // needs --checkpoint-dir
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "sprint: error: --checkpoint-every needs --checkpoint-dir DIR\n");
  std::vector<std::string> debug = {"--log-level", "debug"};
  const std::vector<std::string> rest = tiny({"--checkpoint-every", "5"});
  debug.insert(debug.end(), rest.begin(), rest.end());
  r = run_sprint(debug);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("[check `"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("train_command.cpp:"), std::string::npos) << r.err;
}

TEST(BadInput, DivergingRunStopsWithExitCode6) {
  TempDir tmp;
  const fs::path report = tmp.path() / "run.json";
  CommandResult r = run_sprint(tiny({"--lr", "1e6", "--epochs", "3", "--report", report.string()}));
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("the training loss became non-finite at epoch"), std::string::npos) << r.err;
  const nlohmann::json j = read_json(report);
  EXPECT_EQ(j["status"], "diverged");
  EXPECT_EQ(j["requested_epochs"], 3.0);
  r = run_sprint(tiny({"--lr", "1e6", "--epochs", "2", "--on-nonfinite", "continue"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(BadInput, InterruptSavesAndTheRunResumes) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run", report = tmp.path() / "run.json";
  // Long enough (6000 steps) that the signal, sent soon after the first checkpoint (step 20), lands mid-run even on
  // a fast machine; a signal after the run ended would kill the process without a handler (also exit 130).
  const std::vector<std::string> args = tiny({"--samples", "20000", "--features", "40", "--hidden", "128,64",
                                              "--epochs", "3", "--batch-size", "10", "--threads", "1",
                                              "--checkpoint-dir", dir.string(), "--checkpoint-every", "20",
                                              "--report", report.string()});
  const int code = run_sprint_and_signal(args, [&] { return fs::exists(dir / "latest.safetensors"); }, 10, SIGINT);
  if (code == -1) GTEST_SKIP() << "the run finished before the signal";
  EXPECT_EQ(code, 130);
  EXPECT_EQ(read_json(report)["status"], "interrupted");
  CommandResult resumed = run_sprint({"train", "--resume", dir.string(), "--report", report.string()});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const nlohmann::json j = read_json(report);
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["epochs"].size(), 3u);
}

std::string slurp(const fs::path& p) { return read_text_file(p.string()); }

TEST(BadInput, ReportPathsBehaveAsUsersExpect) {
  TempDir tmp;
  // A symbolic link is followed: the target gets the report, the link stays a link.
  const fs::path target = tmp.path() / "target.json", link = tmp.path() / "link.json";
  std::ofstream(target) << "old";
  fs::create_symlink(target, link);
  ASSERT_EQ(run_sprint(tiny({"--report", link.string()})).exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_NE(slurp(target).find("\"status\": \"completed\""), std::string::npos);
  // /dev/stdout is written as a stream.
  CommandResult r = run_sprint(tiny({"--report", "/dev/stdout"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"requested_epochs\""), std::string::npos) << r.out;
  // A named pipe is written into, not replaced.
  const fs::path fifo = tmp.path() / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string from_pipe;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) from_pipe += slurp(fifo);  // one open per report write
  });
  r = run_sprint(tiny({"--epochs", "1", "--report", fifo.string()}));
  done = true;
  // Wake the reader if it waits in its last open (non-blocking: fails harmlessly when it has already left).
  const int wake = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
  if (wake >= 0) ::close(wake);
  reader.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(from_pipe.find("\"epochs\""), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  // A name of the file system's maximum length works (the temporary name is short).
  const fs::path long_name = tmp.path() / (std::string(250, 'r') + ".json");
  EXPECT_EQ(run_sprint(tiny({"--report", long_name.string()})).exit_code, 0);
  EXPECT_TRUE(fs::exists(long_name));
  // Errors before any work, with the reason.
  r = run_sprint(tiny({"--report", ""}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("--report: the path is empty"), std::string::npos) << r.err;
  r = run_sprint(tiny({"--report", (tmp.path() / std::string(300, 'x')).string()}));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("File name too long"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("epoch"), std::string::npos) << "failed before training";
  // No temporary file is left behind anywhere in the directory.
  for (const auto& f : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(f.path().filename().string().find(".tmp"), std::string::npos) << f.path();
}

TEST(BadInput, OptionsThatWouldDoNothingAreErrors) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"train", "--model", "mlp", "--dataset", "random", "--label-smoothing", "0.1"}, "has no label smoothing"},
      {{"train", "--model", "mlp", "--dataset", "random", "--hidden", "64,32"}, "model mlp takes 1 hidden widths"},
      {{"train", "--model", "cnn", "--dataset", "fashion-mnist", "--hidden", "64"}, "cnn has a fixed architecture"},
      {{"train", "--model", "mlp", "--dataset", "fashion-mnist", "--samples", "500"},
       "--samples describes the random data set"},
  };
  for (const auto& [args, says] : cases) {
    CommandResult r = run_sprint(args);
    EXPECT_EQ(r.exit_code, 2) << args[1];
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
  CommandResult r = run_sprint(tiny({"--epochs", "1", "--resident-data", "on", "--workers", "3"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--workers 3 has no effect with resident data"), std::string::npos) << r.err;
}

TEST(BadInput, AFullStdoutIsAnError) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  // Standard output redirected to /dev/full: every write fails with ENOSPC.
  const std::string cmd = std::string(SPRINT_BINARY) + " train --dataset random --model mlp2 --samples 50 --progress off > /dev/full";
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);
}

TEST(BadInput, DataFetchRepairsACorruptDataDirectory) {
  const std::string installed = fashion_mnist_data_dir();
  if (installed.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const fs::path dir = tmp.path() / "fashion-mnist";
  fs::create_directories(dir);
  for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                        "t10k-labels-idx1-ubyte.gz"}) {
    const fs::path src = fs::path(installed) / "fashion-mnist" / f;
    if (!fs::exists(src)) GTEST_SKIP() << "FashionMNIST is installed without .gz files";
    fs::copy_file(src, dir / f);
  }
  std::ofstream(dir / "train-labels-idx1-ubyte", std::ios::binary) << "not an IDX file";  // shadows the .gz
  CommandResult list = run_sprint({"data", "list", "--data-dir", tmp.path().string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("fashion-mnist  corrupt: "), std::string::npos) << list.out;
  CommandResult fetch = run_sprint({"data", "fetch", "fashion-mnist", "--data-dir", tmp.path().string()});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.err;
  EXPECT_NE(fetch.err.find("removing"), std::string::npos) << fetch.err;
  EXPECT_FALSE(fs::exists(dir / "train-labels-idx1-ubyte"));
  list = run_sprint({"data", "list", "--data-dir", tmp.path().string()});
  EXPECT_NE(list.out.find("60000 train / 10000 test"), std::string::npos) << list.out;
}

}  // namespace
}  // namespace sprint::testing
