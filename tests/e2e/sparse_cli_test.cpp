// sparse_cli_test.cpp: FISH through the CLI on FashionMNIST: `sprint fisher` writes a mask (and the initial
// weights), `sprint train --mask --save-sparse` trains only its entries and writes the small checkpoint, and
// `sprint eval` on that file (put on its base) scores exactly what the run ended with. Under mpiexec, local SGD
// (--merge-every) sends only the masked entries once the mask is on, counted in the report. Bad combinations are
// one-line errors.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

std::string fashion_mnist_or_fail() {
  const std::string dir = fashion_mnist_data_dir();
  const char* require = std::getenv("SPRINT_REQUIRE_DATA");
  if (dir.empty() && require && std::string(require) == "1")
    ADD_FAILURE() << "FashionMNIST is not installed: run `sprint data fetch fashion-mnist` (make test does)";
  return dir;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::vector<std::string> train_args(const std::string& data_dir) {
  return {"train", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--epochs", "1",
          "--limit-train", "1024", "--limit-test", "500", "--progress", "off", "--threads", "1",
          "--weight-decay", "5e-4", "--nesterov"};
}

TEST(SparseCli, FisherMaskTrainingAndTheSmallCheckpoint) {
  const std::string data_dir = fashion_mnist_or_fail();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const std::string mask = (tmp.path() / "mask.safetensors").string(), init = (tmp.path() / "init.safetensors").string(),
                    small = (tmp.path() / "small.safetensors").string(), report = (tmp.path() / "r.json").string(),
                    fisher_report = (tmp.path() / "f.json").string();
  CommandResult f = run_sprint({"fisher", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir,
                                "--samples", "32", "--keep", "0.05", "--out", mask, "--save-init", init, "--report",
                                fisher_report, "--threads", "1"});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_NE(f.out.find("over 32 plain examples"), std::string::npos) << f.out;
  const nlohmann::json fj = read_json(fisher_report);
  EXPECT_EQ(fj["kept"].get<int64_t>(), 421642 / 20);  // floor(0.05 x 421,642)
  EXPECT_EQ(fj["classifier"], "f2");
  EXPECT_EQ(fj["parameters"]["f2.weight"]["kept"].get<int64_t>(), 1280);  // the classifier whole

  std::vector<std::string> args = train_args(data_dir);
  for (const std::string& a : std::vector<std::string>{"--init", init, "--mask", mask, "--save-sparse", small, "--report", report})
    args.push_back(a);
  CommandResult t = run_sprint(args);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("sparse training: fisher mask"), std::string::npos) << t.out;
  const nlohmann::json r = read_json(report);
  const nlohmann::json& sc = r["sparse"]["small_checkpoint"];
  EXPECT_EQ(sc["values"].get<int64_t>(), fj["kept"].get<int64_t>());
  EXPECT_LT(sc["bytes"].get<double>(), 0.12 * sc["full_bytes"].get<double>());  // ~8 bytes per kept value
  EXPECT_EQ(sc["full_bytes"].get<int64_t>(), static_cast<int64_t>(std::filesystem::file_size(init)));

  CommandResult e = run_sprint({"eval", "--model", "cnn", "--checkpoint", small, "--dataset", "fashion-mnist",
                                "--data-dir", data_dir, "--limit-test", "500", "--report",
                                (tmp.path() / "e.json").string()});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const nlohmann::json ej = read_json(tmp.path() / "e.json");
  EXPECT_EQ(ej["test_accuracy"].get<double>(), r["final"]["test_accuracy"].get<double>());
  EXPECT_EQ(ej["test_loss"].get<double>(), r["epochs"][0]["test_loss"].get<double>());

  // The random baseline keeps as many; a small checkpoint on other weights is refused.
  CommandResult rnd = run_sprint({"fisher", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir,
                                  "--method", "random", "--keep", "0.05", "--out", (tmp.path() / "rnd.safetensors").string()});
  ASSERT_EQ(rnd.exit_code, 0) << rnd.err;
  EXPECT_NE(rnd.out.find("random mask: 21082 of 421642"), std::string::npos) << rnd.out;
  std::filesystem::copy_file(init, tmp.path() / "keep.safetensors");
  CommandResult other = run_sprint({"fisher", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir,
                                    "--seed", "5", "--method", "dense", "--out", (tmp.path() / "d.safetensors").string(),
                                    "--save-init", init});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  CommandResult moved = run_sprint({"eval", "--model", "cnn", "--checkpoint", small, "--dataset", "fashion-mnist",
                                    "--data-dir", data_dir, "--limit-test", "10"});
  EXPECT_NE(moved.exit_code, 0);
  EXPECT_EQ(count_lines(moved.err), 1) << moved.err;
  EXPECT_NE(moved.err.find("other base weights"), std::string::npos) << moved.err;
}

TEST(SparseCli, BadCombinationsAreOneLineErrors) {
  const std::string data_dir = fashion_mnist_or_fail();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const std::string mask = (tmp.path() / "mlp.safetensors").string();
  ASSERT_EQ(run_sprint({"fisher", "--model", "mlp", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--samples",
                        "4", "--keep", "0.1", "--out", mask}).exit_code, 0);
  const auto expect_error = [&](std::vector<std::string> extra, const std::string& message) {
    std::vector<std::string> args = train_args(data_dir);
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult r = run_sprint(args);
    EXPECT_NE(r.exit_code, 0) << message;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  expect_error({"--mask", mask}, "a mask of another model");
  expect_error({"--mask-update", "grad-only"}, "--mask-update needs --mask FILE");
  expect_error({"--mask", mask, "--save-sparse", (tmp.path() / "s.safetensors").string()}, "needs --init BASE");
  expect_error({"--merge-every", "5"}, "--merge-every (local SGD) needs --distributed");
  expect_error({"--mask", (tmp.path() / "missing.safetensors").string()}, "missing.safetensors");
  std::filesystem::copy_file(mask, tmp.path() / "copy.safetensors");
  const std::string weights = (tmp.path() / "w.safetensors").string();
  ASSERT_EQ(run_sprint({"fisher", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--method",
                        "dense", "--out", (tmp.path() / "d.safetensors").string(), "--save-init", weights}).exit_code, 0);
  expect_error({"--mask", weights}, "is not a sprint mask file");
}

#ifdef SPRINT_MPIEXEC
// Two ranks, local SGD every 4 steps: the first epoch dense, the second on the mask; the masked merges send the
// kept values alone (the CNN has no BatchNorm), counted by the process group.
TEST(SparseCli, LocalSgdMergesSendTheMaskedEntries) {
  const std::string data_dir = fashion_mnist_or_fail();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  const std::string mask = (tmp.path() / "m.safetensors").string(), report = (tmp.path() / "r.json").string();
  ASSERT_EQ(run_sprint({"fisher", "--model", "cnn", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--samples",
                        "8", "--keep", "0.02", "--out", mask}).exit_code, 0);
  std::vector<std::string> args = {"-np", "2", "--oversubscribe", "--allow-run-as-root", SPRINT_BINARY};
  for (const std::string& a : train_args(data_dir)) args.push_back(a);
  for (const std::string& a : std::vector<std::string>{"--epochs", "2", "--limit-train", "512", "--distributed", "--merge-every", "4",
                               "--mask", mask, "--mask-after-epochs", "1", "--report", report})
    args.push_back(a);
  const CommandResult r = run_program(SPRINT_MPIEXEC, args);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("local SGD: 2 ranks"), std::string::npos) << r.out;
  const nlohmann::json s = read_json(report)["sparse"];
  const nlohmann::json& m = s["local_sgd"];
  EXPECT_EQ(s["mask_from_epoch"], 2);
  EXPECT_EQ(m["merges"], 4);  // 8 steps an epoch: steps 4, 8, 12, 16
  EXPECT_EQ(m["masked_merges"], 2);
  EXPECT_EQ(m["masked_bytes_sent"].get<int64_t>(), 2 * 4 * s["kept"].get<int64_t>());
  EXPECT_EQ(m["bytes_sent"].get<int64_t>(), 2 * 4 * (s["kept"].get<int64_t>() + s["total"].get<int64_t>()));
}
#endif

}  // namespace
}  // namespace sprint::testing
