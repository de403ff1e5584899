// distributed_test.cpp: `sprint train --distributed` under mpiexec (2 ranks on this machine, oversubscribed). Two
// ranks on batch 16 each take the steps of one process on batch 32: the same losses to float rounding (the MLP
// has no BatchNorm, whose statistics stay per rank). Rank 0 alone prints and writes the report, which counts the
// traffic. With --sync-batchnorm a BatchNorm net does the same. A hung or killed rank ends the job within the
// timeout. Ranks on two network hosts of a hostfile (scripts/two_hosts.sh) train the same, and a rank hung on the
// other host ends the job too. Without a launcher,
// or without --distributed,
// the flags are one-line errors.
#include <gtest/gtest.h>

#include <functional>

#include <signal.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include <unistd.h>
#include <thread>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

// mpiexec's options for 2 ranks on this machine (as root, more ranks than cores allowed).
const std::vector<std::string> kOneHost = {"-np", "2", "--oversubscribe", "--allow-run-as-root"};

std::vector<std::string> run_args(const std::string& batch, const std::string& report) {
  return {"train", "--dataset", "random", "--model", "mlp2", "--samples", "640", "--features", "24", "--epochs",
          "3", "--batch-size", batch, "--lr", "0.05", "--progress", "off", "--threads", "1", "--report", report};
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// 2 ranks under mpiexec with `launcher` (its options before the program) on batch 16 each, against one process
// on batch 32: the same losses to float rounding, rank 0 alone printing, the traffic reported.
void expect_two_ranks_train_as_one_process(const std::vector<std::string>& launcher) {
  TempDir tmp;
  const auto single_report = tmp.path() / "single.json", ddp_report = tmp.path() / "ddp.json";
  CommandResult single = run_sprint(run_args("32", single_report.string()));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  std::vector<std::string> args = launcher;
  args.push_back(SPRINT_BINARY);
  for (const std::string& a : run_args("16", ddp_report.string())) args.push_back(a);
  for (const char* a : {"--distributed", "--bucket-mb", "0.01"}) args.push_back(a);  // several 10 KiB buckets
  CommandResult ddp = run_program(SPRINT_MPIEXEC, args);
  ASSERT_EQ(ddp.exit_code, 0) << ddp.out << ddp.err;
  EXPECT_EQ(occurrences(ddp.out, "final test accuracy"), 1u) << ddp.out;  // rank 0 only
  EXPECT_NE(ddp.out.find("data parallel: 2 ranks over mpi"), std::string::npos) << ddp.out;
  const nlohmann::json s = read_json(single_report), d = read_json(ddp_report);
  ASSERT_EQ(d["epochs"].size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    SCOPED_TRACE(e);
    EXPECT_EQ(d["epochs"][e]["train_samples"], s["epochs"][e]["train_samples"]);
    const double loss = s["epochs"][e]["train_loss"].get<double>();
    EXPECT_NEAR(d["epochs"][e]["train_loss"].get<double>(), loss, 1e-4 * loss);
    const double test = s["epochs"][e]["test_loss"].get<double>();
    EXPECT_NEAR(d["epochs"][e]["test_loss"].get<double>(), test, 1e-4 * test);
  }
  EXPECT_LT(s["epochs"][2]["train_loss"].get<double>(), s["epochs"][0]["train_loss"].get<double>());
  const nlohmann::json& dist = d["distributed"];
  EXPECT_EQ(dist["ranks"], 2);
  EXPECT_EQ(dist["backend"], "mpi");
  EXPECT_EQ(dist["optimizer_steps"], 3 * 512 / 32);
  EXPECT_GT(dist["bytes_per_step"].get<double>(), 0.0);
  // The MLP's gradients fill several buckets, which start during backward (after the first step's layout).
  EXPECT_TRUE(dist["overlap"].get<bool>());
  const int64_t reduced = dist["buckets_reduced"].get<int64_t>();
  EXPECT_GT(reduced, 2 * dist["optimizer_steps"].get<int64_t>());
  EXPECT_GE(dist["buckets_started_during_backward"].get<int64_t>(),
            reduced - reduced / dist["optimizer_steps"].get<int64_t>());
  EXPECT_FALSE(s.contains("distributed"));
}

TEST(Distributed, TwoRanksTrainAsOneProcessOnTheDoubledBatch) {
  expect_two_ranks_train_as_one_process(kOneHost);
}

// Two network hosts on this machine (scripts/two_hosts.sh: network namespaces with addresses of their own, which
// mpirun reaches through its remote launcher from a hostfile, as it reaches other machines over ssh), made for a
// test and removed after it. ok() is false where they cannot be made (no root, no network namespaces, or TCP
// between them filtered).
class TwoHosts {
 public:
  TwoHosts() : dir_((tmp_.path() / "hosts").string()) {
    // Tests running at once choose different numbers (exit status 3: that number is taken).
    for (int i = 0; i < 8; ++i) {
      up_ = run_program(SPRINT_TWO_HOSTS, {"up", dir_, std::to_string((getpid() + 37 * i) % 250)});
      if (up_.exit_code != 3) break;
    }
  }
  ~TwoHosts() {
    if (ok()) (void)run_program(SPRINT_TWO_HOSTS, {"down", dir_});
  }
  bool ok() const { return up_.exit_code == 0; }
  std::string why_not() const {
    return "scripts/two_hosts.sh made no hosts here (it needs root, network namespaces and TCP between them): " +
           up_.err;
  }
  /// mpiexec's options for one rank on each host.
  std::vector<std::string> launcher() const {
    std::vector<std::string> args = {"-np", "2", "--allow-run-as-root"};
    std::istringstream words(up_.out);
    for (std::string w; words >> w;) args.push_back(w);
    return args;
  }

 private:
  TempDir tmp_;
  std::string dir_;
  CommandResult up_;
};

// One rank on each of two hosts, talking TCP between the two addresses, trains as one process on the doubled batch.
TEST(Distributed, RanksOnTwoHostsOfAHostfileTrainAsOneProcess) {
  const TwoHosts hosts;
  if (!hosts.ok()) GTEST_SKIP() << hosts.why_not();
  // The harness itself: each rank on its own host.
  std::vector<std::string> probe = hosts.launcher();
  probe.push_back("hostname");
  const CommandResult names = run_program(SPRINT_MPIEXEC, probe);
  ASSERT_EQ(names.exit_code, 0) << names.out << names.err;
  EXPECT_EQ(occurrences(names.out, "host-a"), 1u) << names.out;
  EXPECT_EQ(occurrences(names.out, "host-b"), 1u) << names.out;
  expect_two_ranks_train_as_one_process(hosts.launcher());
}

// With --sync-batchnorm, BatchNorm layers normalise with both ranks' batches together: 2 ranks on batch 16 take
// the steps of one process on batch 32 with a BatchNorm net too (ResNet-10 on a slice of FashionMNIST); without
// it, each rank's statistics are its own half-batch's and the losses part.
TEST(Distributed, SynchronisedBatchNormTrainsAsOneProcessOnTheDoubledBatch) {
  const std::string data_dir = fashion_mnist_data_dir();
  if (data_dir.empty()) GTEST_SKIP() << "FashionMNIST not installed (sprint data fetch fashion-mnist)";
  TempDir tmp;
  auto args = [&](const std::string& batch, const std::filesystem::path& report) {
    return std::vector<std::string>{"train", "--dataset", "fashion-mnist", "--data-dir", data_dir, "--model",
                                    "resnet10", "--limit-train", "96", "--limit-test", "64", "--epochs", "1",
                                    "--batch-size", batch, "--lr", "0.01", "--progress", "off", "--threads", "1",
                                    "--report", report.string()};
  };
  auto ranks = [&](const std::filesystem::path& report, bool sync) {
    std::vector<std::string> a = kOneHost;
    a.push_back(SPRINT_BINARY);
    for (const std::string& x : args("16", report)) a.push_back(x);
    a.push_back("--distributed");
    if (sync) a.push_back("--sync-batchnorm");
    return run_program(SPRINT_MPIEXEC, a);
  };
  const auto single_report = tmp.path() / "single.json", sync_report = tmp.path() / "sync.json",
             local_report = tmp.path() / "local.json";
  const CommandResult single = run_sprint(args("32", single_report));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const CommandResult sync = ranks(sync_report, true);
  ASSERT_EQ(sync.exit_code, 0) << sync.out << sync.err;
  const CommandResult local = ranks(local_report, false);
  ASSERT_EQ(local.exit_code, 0) << local.out << local.err;
  const nlohmann::json s = read_json(single_report), d = read_json(sync_report), l = read_json(local_report);
  EXPECT_TRUE(d["distributed"]["sync_batch_norm"].get<bool>());
  EXPECT_FALSE(l["distributed"]["sync_batch_norm"].get<bool>());
  // Three steps: the losses agree to f32 rounding grown over the steps (measured 1e-4 relative and below);
  // per-rank statistics train measurably differently (measured 3e-3).
  for (const char* key : {"train_loss", "test_loss"}) {
    const double expected = s["epochs"][0][key].get<double>();
    EXPECT_NEAR(d["epochs"][0][key].get<double>(), expected, 5e-4 * expected) << key;
  }
  const double expected = s["epochs"][0]["train_loss"].get<double>();
  const double local_gap = std::abs(l["epochs"][0]["train_loss"].get<double>() - expected) / expected;
  EXPECT_GT(local_gap, 1e-3) << "per-rank statistics should train differently from the whole batch's";
}

// Rank 1 stopped (SIGSTOP: a hang) or killed mid-run: the job ends within the timeout, never hangs. A hung rank
// makes rank 0's collective time out with sprint's error naming it; a killed one is reported by mpiexec, which
// ends the job. Each rank writes its pid (the shell's, which exec hands to sprint) so the test can signal rank 1.
void lose_rank_one(int sig, const std::string& expected,
                   const std::vector<std::string>& launcher = kOneHost) {
  TempDir tmp;
  const std::filesystem::path pid_file = tmp.path() / "rank1.pid";
  std::string command = "echo $$ > " + tmp.path().string() + "/rank$OMPI_COMM_WORLD_RANK.pid; exec " +
                        std::string(SPRINT_BINARY) +
                        " train --dataset random --model mlp2 --samples 100000 --features 64 --epochs 100 "
                        "--batch-size 64 --threads 1 --progress off --distributed --dist-timeout 2";
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> args = launcher;
  args.insert(args.end(), {"sh", "-c", command});
  CommandResult r = run_program(
      SPRINT_MPIEXEC, args, {}, [&] {
        pid_t pid = 0;
        for (int i = 0; i < 3000 && pid == 0; ++i) {  // up to 30 s for the ranks to start
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          std::ifstream in(pid_file);
          if (!(in >> pid)) pid = 0;
        }
        ASSERT_GT(pid, 0) << "rank 1 never started";
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // into training
        kill(pid, sig);
      });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_LT(seconds, 40.0);
  EXPECT_TRUE(std::regex_search(r.err, std::regex(expected))) << r.err;
}

TEST(Distributed, AHungRankEndsTheJobWithAnErrorNamingTheRank) {
  lose_rank_one(SIGSTOP, "sprint: error: rank 0 of 2: [a-z_]+ of [0-9]+ [a-z0-9]+ did not complete within 2 s: "
                         "another rank has exited, crashed or hangs");
}

TEST(Distributed, AKilledRankEndsTheJob) { lose_rank_one(SIGKILL, "rank 1"); }

// The same across two hosts: rank 1 hangs on the other host, rank 0's collective times out naming it.
TEST(Distributed, ARankHungOnAnotherHostEndsTheJob) {
  const TwoHosts hosts;
  if (!hosts.ok()) GTEST_SKIP() << hosts.why_not();
  lose_rank_one(SIGSTOP, "sprint: error: rank 0 of 2: [a-z_]+ of [0-9]+ [a-z0-9]+ did not complete within 2 s",
                hosts.launcher());
}

// SIGINT reaching rank 1 alone (not through mpiexec): every rank stops after the same step, rank 0 saves the
// checkpoint (with the job's partial epoch loss), both exit 130; resumed under mpiexec, the job ends with the
// weights of an uninterrupted run (same test loss and accuracy, bit for bit) and the same training losses.
TEST(Distributed, AnInterruptedRankStopsTheJobAndItResumesExactly) {
  TempDir tmp;
  const std::string train = " train --dataset random --model mlp2 --samples 60000 --features 64 --epochs 6 "
                            "--batch-size 32 --lr 0.05 --threads 1 --progress off --distributed";
  const auto mpi = [&](const std::string& command, const std::function<void()>& meanwhile) {
    std::vector<std::string> args = kOneHost;
    args.insert(args.end(), {"sh", "-c", command});
    return run_program(SPRINT_MPIEXEC, args, {}, meanwhile);
  };
  const CommandResult whole =
      mpi(std::string("exec ") + SPRINT_BINARY + train + " --report " + (tmp.path() / "whole.json").string(), {});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const std::filesystem::path pid_file = tmp.path() / "rank1.pid", dir = tmp.path() / "checkpoints";
  const CommandResult stopped = mpi(
      "echo $$ > " + tmp.path().string() + "/rank$OMPI_COMM_WORLD_RANK.pid; exec " + std::string(SPRINT_BINARY) +
          train + " --checkpoint-dir " + dir.string(),
      [&] {
        pid_t pid = 0;
        for (int i = 0; i < 3000 && pid == 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          std::ifstream in(pid_file);
          if (!(in >> pid)) pid = 0;
        }
        ASSERT_GT(pid, 0) << "rank 1 never started";
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // into training
        kill(pid, SIGINT);
      });
  EXPECT_EQ(stopped.exit_code, 130) << stopped.out << stopped.err;
  ASSERT_NE(stopped.out.find("interrupted at step"), std::string::npos) << stopped.out << stopped.err;

  const CommandResult resumed = mpi(std::string("exec ") + SPRINT_BINARY + " train --resume " + dir.string() +
                                        " --report " + (tmp.path() / "resumed.json").string(),
                                    {});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  const nlohmann::json w = read_json(tmp.path() / "whole.json"), r = read_json(tmp.path() / "resumed.json");
  ASSERT_EQ(r["epochs"].size(), 6u);
  EXPECT_EQ(r["final"]["test_accuracy"], w["final"]["test_accuracy"]);
  for (size_t e = 0; e < 6; ++e) {
    SCOPED_TRACE(e);
    EXPECT_EQ(r["epochs"][e]["test_loss"], w["epochs"][e]["test_loss"]);
    const double expected = w["epochs"][e]["train_loss"].get<double>();
    EXPECT_NEAR(r["epochs"][e]["train_loss"].get<double>(), expected, 1e-6 * expected);  // partial sums regrouped
  }
}

TEST(Distributed, FlagsWithoutALauncherAreOneLineErrors) {
  CommandResult alone = run_sprint({"train", "--dataset", "random", "--distributed"});
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_EQ(count_lines(alone.err), 1) << alone.err;
  EXPECT_NE(alone.err.find("start sprint under an MPI launcher"), std::string::npos) << alone.err;
  CommandResult timeout = run_sprint({"train", "--dataset", "random", "--dist-timeout", "5"});
  EXPECT_NE(timeout.exit_code, 0);
  EXPECT_NE(timeout.err.find("--dist-timeout needs --distributed"), std::string::npos) << timeout.err;
  CommandResult overlap = run_sprint({"train", "--dataset", "random", "--dist-overlap", "off"});
  EXPECT_NE(overlap.exit_code, 0);
  EXPECT_NE(overlap.err.find("--dist-overlap needs --distributed"), std::string::npos) << overlap.err;
  CommandResult sync = run_sprint({"train", "--dataset", "random", "--sync-batchnorm"});
  EXPECT_NE(sync.exit_code, 0);
  EXPECT_NE(sync.err.find("--sync-batchnorm needs --distributed"), std::string::npos) << sync.err;
  CommandResult backend = run_sprint({"train", "--dataset", "random", "--dist-backend", "mpi"});
  EXPECT_NE(backend.exit_code, 0);
  EXPECT_NE(backend.err.find("--dist-backend needs --distributed"), std::string::npos) << backend.err;
}

// NCCL reduces GPU tensors: asking for it on the CPU is one error line from every rank, before any training.
TEST(Distributed, NcclOnTheCpuIsAOneLineError) {
  std::vector<std::string> args = kOneHost;
  args.insert(args.end(), {SPRINT_BINARY, "train", "--dataset", "random", "--distributed", "--dist-backend", "nccl"});
  const CommandResult r = run_program(SPRINT_MPIEXEC, args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("sprint: error: --dist-backend nccl needs --device cuda"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("epoch"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sprint::testing
