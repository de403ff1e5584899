// checkpoint_test.cpp: checkpoints through the `sprint` binary. A run killed with SIGKILL at random moments
// (saves every step, so many kills land inside a save) and resumed with `sprint train --resume DIR` ends with the
// same bytes in DIR/latest.safetensors as the run that was never killed; a checkpoint always stays loadable;
// --init / --init-partial; `sprint eval` logits against a forward pass computed here from the file's tensors;
// `sprint checkpoint info`; broken files are one error line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "run_command.h"
#include "sprint/core/rng.h"
#include "sprint/data/npy.h"
#include "sprint/data/safetensors.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) { return read_text_file(p.string()); }

// A few seconds of training on the seeded random data set: 2 epochs of 100 steps, momentum SGD with a schedule.
std::vector<std::string> run_args(const fs::path& dir) {
  return {"train", "--dataset", "random", "--model", "mlp2", "--samples", "2500", "--features", "48", "--classes",
          "4", "--hidden", "96,48", "--epochs", "2", "--batch-size", "20", "--schedule", "onecycle", "--lr", "0.05",
          "--nesterov", "--weight-decay", "1e-4", "--lookahead", "3", "--seed", "4", "--threads", "1",
          "--workers", "1", "--progress", "off", "--checkpoint-dir", dir.string(), "--checkpoint-every", "1",
          "--keep", "2"};
}

TEST(Checkpoints, KilledAndResumedRunsEndBitIdentical) {
  TempDir tmp;
  const fs::path reference = tmp.path() / "reference";
  CommandResult r = run_sprint(run_args(reference));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string want = slurp(reference / "latest.safetensors");
  ASSERT_FALSE(want.empty());

  Generator rng(2026);
  for (int trial = 0; trial < 4; ++trial) {
    SCOPED_TRACE(::testing::Message() << "trial " << trial);
    const fs::path dir = tmp.path() / ("killed-" + std::to_string(trial));
    const auto saved = [&] { return fs::exists(dir / "latest.safetensors"); };
    // Kill once after the first save (at a random moment of the run); trial 3 kills the resumed run again.
    const bool killed = run_sprint_and_kill(run_args(dir), saved, static_cast<int>(rng.below(1500)));
    if (!killed) continue;  // the run finished before the kill: nothing to resume
    CommandResult info = run_sprint({"checkpoint", "info", dir.string()});
    EXPECT_EQ(info.exit_code, 0) << "a kill left no loadable checkpoint: " << info.err;
    if (trial == 3) (void)run_sprint_and_kill({"train", "--resume", dir.string()}, saved, 300);
    CommandResult resumed = run_sprint({"train", "--resume", dir.string()});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("resumed "), std::string::npos) << resumed.out;
    EXPECT_TRUE(slurp(dir / "latest.safetensors") == want) << "final weights differ from the uninterrupted run";
  }
}

TEST(Checkpoints, ResumeKeepsTheStoredConfiguration) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  std::vector<std::string> args = run_args(dir);
  ASSERT_EQ(run_sprint(args).exit_code, 0);
  CommandResult r = run_sprint({"train", "--resume", dir.string(), "--lr", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--lr cannot be changed"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  const fs::path report = tmp.path() / "report.json";
  r = run_sprint({"train", "--resume", dir.string(), "--report", report.string()});  // the run is complete
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(report).find("\"epochs\""), std::string::npos);
  r = run_sprint({"train", "--resume", (tmp.path() / "nothing").string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

// mlp2 = Linear + ReLU (fc1), Linear + ReLU (fc2), Linear (fc3): the logits of `x` from the file's tensors.
std::vector<float> mlp2_logits(const data::SafetensorsFile& f, const std::vector<float>& x, int64_t n, int64_t in) {
  std::vector<float> h = x;
  int64_t width = in;
  for (const char* layer : {"fc1", "fc2", "fc3"}) {
    const Tensor w = f.tensor(std::string(layer) + ".weight"), b = f.tensor(std::string(layer) + ".bias");
    const int64_t out = w.dim(0);
    const std::vector<float> wv = w.to_vector<float>(), bv = b.to_vector<float>();
    std::vector<float> next(static_cast<size_t>(n * out));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t o = 0; o < out; ++o) {
        double s = bv[static_cast<size_t>(o)];
        for (int64_t k = 0; k < width; ++k)
          s += static_cast<double>(wv[static_cast<size_t>(o * width + k)]) * h[static_cast<size_t>(i * width + k)];
        next[static_cast<size_t>(i * out + o)] = std::string(layer) == "fc3" ? static_cast<float>(s)
                                                                           : std::max(0.0f, static_cast<float>(s));
      }
    h = std::move(next);
    width = out;
  }
  return h;
}

TEST(Checkpoints, EvalLogitsMatchAForwardPassFromTheFile) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  ASSERT_EQ(run_sprint(run_args(dir)).exit_code, 0);
  const int64_t n = 7, in = 48;
  std::vector<float> x(static_cast<size_t>(n * in));
  Generator g(8);
  for (float& v : x) v = g.normal();
  data::write_npy(tmp.path() / "x.npy", Tensor::from_values(x, {n, in}));
  CommandResult r = run_sprint({"eval", "--model", "mlp2", "--hidden", "96,48", "--num-classes", "4", "--checkpoint",
                                dir.string(), "--inputs", (tmp.path() / "x.npy").string(), "--logits",
                                (tmp.path() / "y.npy").string(), "--batch-size", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor y = data::read_npy(tmp.path() / "y.npy");
  ASSERT_EQ(y.shape(), (Shape{n, 4}));
  const std::vector<float> want = mlp2_logits(data::read_safetensors(dir / "latest.safetensors"), x, n, in);
  const std::vector<float> got = y.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << i;
}

TEST(Checkpoints, InitStrictAndPartial) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  ASSERT_EQ(run_sprint(run_args(dir)).exit_code, 0);
  const std::vector<std::string> base = {"train", "--dataset", "random", "--model", "mlp2", "--samples", "200",
                                         "--features", "48", "--classes", "4", "--epochs", "1", "--progress", "off"};
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--hidden", "96,48", "--init", dir.string()});
  CommandResult r = run_sprint(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("6 tensors loaded"), std::string::npos) << r.out;
  args = base;
  args.insert(args.end(), {"--hidden", "96,32", "--init", dir.string()});
  r = run_sprint(args);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("wrong shape: fc2.weight (file [48, 96], model [32, 96])"), std::string::npos) << r.err;
  args.push_back("--init-partial");
  r = run_sprint(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("skipped (shape differs): fc2.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 tensors loaded"), std::string::npos) << r.out;
}

TEST(Checkpoints, InfoAndBrokenFiles) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  ASSERT_EQ(run_sprint(run_args(dir)).exit_code, 0);
  CommandResult r = run_sprint({"checkpoint", "info", (dir / "latest.safetensors").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("fc3.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("metadata model: mlp2"), std::string::npos) << r.out;
  std::string bytes = slurp(dir / "latest.safetensors");
  const fs::path broken = tmp.path() / "broken.safetensors";
  std::ofstream(broken, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::pair<std::vector<std::string>, int> cases[] = {
      {{"checkpoint", "info", broken.string()}, 3},  // input data
      {{"eval", "--model", "mlp2", "--checkpoint", broken.string(), "--inputs", broken.string()}, 3},
      {{"train", "--dataset", "random", "--model", "mlp2", "--init", broken.string()}, 3},
      {{"checkpoint", "info", (tmp.path() / "missing").string()}, 4}};  // I/O
  for (const auto& [args, code] : cases) {
    r = run_sprint(args);
    EXPECT_EQ(r.exit_code, code) << args[0];
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("sprint: error: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace sprint::testing
