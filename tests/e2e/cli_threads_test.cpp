// cli_threads_test.cpp: `sprint train --threads`: auto (the default) resolves to 1 for the MLPs and to the cores
// available to the process for the convolutional models; explicit counts hold; anything else is one error line.
// And `sprint info`: CPU model, oneDNN ISA, thread settings, the auto rule, and truthful NCCL/MPI lines. Also a run
// with training and test-time augmentation on the same blank image stand-in.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "sprint/config.h"

#include "run_command.h"
#include "sprint/backend/cpu/cpu_info.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

std::string threads_text(int n) { return "cpu, " + std::to_string(n) + (n == 1 ? " thread\n" : " threads\n"); }

// The line of `text` that starts with `prefix` (after indentation), or "".
std::string line_with(const std::string& text, const std::string& prefix) {
  size_t at = text.find(prefix);
  if (at == std::string::npos) return "";
  const size_t end = text.find('\n', at);
  return text.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

CommandResult train_random(const std::vector<std::string>& extra) {
  std::vector<std::string> args{"train", "--dataset", "random", "--model", "mlp2", "--samples", "100", "--epochs", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_sprint(args);
}

TEST(CliThreads, AutoIsTheDefaultAndGivesTheMlpsOneThread) {
  CommandResult r = train_random({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(threads_text(1)), std::string::npos) << r.out;
  CommandResult a = run_sprint({"train", "--dataset", "random", "--model", "mlp", "--samples", "100", "--epochs", "1",
                                "--threads", "auto"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find(threads_text(1)), std::string::npos) << a.out;
}

TEST(CliThreads, AnExplicitCountHolds) {
  for (int n : {1, 2, 3}) {
    CommandResult r = train_random({"-j", std::to_string(n)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(threads_text(n)), std::string::npos) << r.out;
  }
}

TEST(CliThreads, AnythingElseIsOneClearErrorLine) {
  for (const std::string bad : {"0", "-3", "abc", "2x", "1025", "99999999999", " 2", "Auto"}) {
    CommandResult r = train_random({"--threads=" + bad});
    EXPECT_EQ(r.exit_code, 2) << "--threads=" << bad << ": " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("sprint: error: --threads " + bad + ": expected auto or a whole number from 1 to 1024"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.out.find("epoch"), std::string::npos) << "trained despite --threads=" << bad;
  }
  // The separated form reaches the same check (a leading '-' is taken as the value, not as an option).
  CommandResult r = train_random({"--threads", "-3"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err, "sprint: error: --threads -3: expected auto or a whole number from 1 to 1024\n");
  // No value at all is CLI11's usage error, like any option left without its value.
  EXPECT_NE(train_random({"--threads="}).exit_code, 0);
}

TEST(CliThreads, AutoGivesConvModelsTheAvailableCores) {
  TempDir tmp;
  const auto data_dir = write_blank_fashion_mnist(tmp.path());
  const int cores = cpu::available_cores();
  CommandResult r = run_sprint({"train", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir",
                                data_dir.string(), "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                                "--batch-size", "32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(threads_text(cores)), std::string::npos) << "expected " << cores << " threads:\n" << r.out;
  CommandResult one = run_sprint({"train", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir",
                                  data_dir.string(), "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                                  "--batch-size", "32", "--threads", "1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find(threads_text(1)), std::string::npos) << one.out;
}

// Augmentation and TTA on image data (the blank stand-in): the run says what it applies; a padding as large as the
// image is one error line.
TEST(CliAugment, TrainsWithAugmentationAndTestTimeAugmentation) {
  TempDir tmp;
  const auto data_dir = write_blank_fashion_mnist(tmp.path());
  const std::vector<std::string> base = {"train", "--model", "mlp", "--dataset", "fashion-mnist", "--data-dir",
                                         data_dir.string(), "--epochs", "1", "--limit-train", "64", "--limit-test",
                                         "32", "--batch-size", "32"};
  std::vector<std::string> args = base;
  for (const char* a : {"--crop-pad", "2", "--flip", "alternate", "--cutout", "4", "--tta", "2"}) args.push_back(a);
  CommandResult r = run_sprint(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("augmentation: crop 2 (reflect), flip alternate, cutout 4; test-time augmentation 2"),
            std::string::npos)
      << r.out;
  args = base;
  for (const char* a : {"--crop-pad", "28", "--crop-mode", "zero"}) args.push_back(a);
  CommandResult bad = run_sprint(args);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(count_lines(bad.err), 1) << bad.err;
  EXPECT_NE(bad.err.find("crop padding must be in [0, 28)"), std::string::npos) << bad.err;
}

TEST(CliThreads, HelpShowsAutoAsTheDefault) {
  CommandResult r = run_sprint({"train", "--help"});
  ASSERT_EQ(r.exit_code, 0);
  const std::string line = line_with(r.out, "-j,--threads");
  EXPECT_NE(line.find("auto"), std::string::npos) << r.out;
  EXPECT_NE(line.find("=auto"), std::string::npos) << line;
}

TEST(CliInfo, DescribesTheCpuAndTheThreadSettings) {
  // run_sprint appends to the environment: an OMP_NUM_THREADS already set stays the one the child sees.
  const char* inherited = std::getenv("OMP_NUM_THREADS");
  const std::string omp = inherited ? std::string(inherited) : "3";
  CommandResult r = run_sprint({"info"}, {"OMP_NUM_THREADS=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cpu::CpuInfo cpu = cpu::cpu_info();
  EXPECT_EQ(line_with(r.out, "CPU: "), "CPU: " + cpu.description()) << r.out;
  EXPECT_EQ(line_with(r.out, "CPU ISA used by oneDNN: "), "CPU ISA used by oneDNN: " + cpu.isa_name) << r.out;
  const std::string threads = line_with(r.out, "CPU threads: ");
  EXPECT_NE(threads.find(std::to_string(cpu.hardware_threads) + " hardware threads"), std::string::npos) << threads;
  EXPECT_NE(threads.find(std::to_string(cpu.available_cores) + " cores available to this process"), std::string::npos)
      << threads;
  EXPECT_NE(threads.find("OMP_NUM_THREADS=" + omp + " (overridden by --threads)"), std::string::npos) << threads;
  const std::string rule = line_with(r.out, "sprint train --threads auto");
  EXPECT_NE(rule.find(std::to_string(cpu.available_cores) + " (the available cores) for cnn, resnet10, resnet18, resnet34, "
                                                            "resnet18-imagenet, resnet9, vgg16, airbench94; 1 for mlp, "
                                                            "mlp2, fc"),
            std::string::npos)
      << rule;
  EXPECT_NE(r.out.find("CPU libraries: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CPU conv-model activations: blocked"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("default 1"), std::string::npos) << r.out;
  if (!inherited) {
    CommandResult plain = run_sprint({"info"});
    EXPECT_NE(line_with(plain.out, "CPU threads: ").find("OMP_NUM_THREADS not set"), std::string::npos) << plain.out;
  }
}

// The NCCL and MPI lines say what this build has: the NCCL line names the library's version when the backend is
// built, and each line says "not built" otherwise.
TEST(CliInfo, NcclAndMpiLinesSayWhatIsBuilt) {
  CommandResult r = run_sprint({"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string nccl = line_with(r.out, "NCCL:"), mpi = line_with(r.out, "MPI:");
  EXPECT_EQ(nccl.find("not built") == std::string::npos, SPRINT_HAS_NCCL != 0) << nccl;
  if (SPRINT_HAS_NCCL) {
    EXPECT_NE(nccl.find("NCCL 2."), std::string::npos) << nccl;
  }
  EXPECT_EQ(mpi.find("not built") == std::string::npos, SPRINT_HAS_MPI != 0) << mpi;
}

}  // namespace
}  // namespace sprint::testing
