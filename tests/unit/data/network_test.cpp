// network_test.cpp: fetch_dataset for real (Debian and npm downloads, ~180 MB), into a fresh directory: md5
// verification, loading through load_dataset, the label histograms of datasets.md, and idempotence. Skipped
// unless SPRINT_NETWORK_TESTS=1 (label: network).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "sprint/data/dataset.h"
#include "sprint/data/fetch.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {
namespace fs = std::filesystem;

bool network_tests_enabled() {
  const char* v = std::getenv("SPRINT_NETWORK_TESTS");
  return v && std::string(v) == "1";
}

std::vector<int64_t> histogram(const Dataset& d) {
  std::vector<int64_t> h(10, 0);
  for (int32_t y : d.labels.to_vector<int32_t>()) ++h[static_cast<size_t>(y)];
  return h;
}

FetchResult timed_fetch(const std::string& name, const fs::path& dir, FetchOptions o) {
  o.log = [&](std::string_view line) {
    std::printf("  [%s] %.*s\n", name.c_str(), static_cast<int>(line.size()), line.data());
  };
  const auto t0 = std::chrono::steady_clock::now();
  FetchResult r = fetch_dataset(name, dir, o);
  std::printf("  [%s] fetch_dataset took %.2f s (already_present=%d)\n", name.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              r.already_present);
  return r;
}

class NetworkFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!network_tests_enabled()) GTEST_SKIP() << "set SPRINT_NETWORK_TESTS=1 to download data sets";
  }
};

TEST_F(NetworkFetch, Mnist) {
  testing::TempDir dir;
  EXPECT_FALSE(timed_fetch("mnist", dir.path(), {}).already_present);
  EXPECT_EQ(histogram(load_dataset("mnist", Split::kTrain, dir.path())),
            (std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  EXPECT_EQ(histogram(load_dataset("mnist", Split::kTest, dir.path())),
            (std::vector<int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_TRUE(timed_fetch("mnist", dir.path(), {}).already_present);
}

TEST_F(NetworkFetch, FashionMnistThroughAptGetDownload) {
  testing::TempDir dir, empty_system;
  FetchOptions o;
  o.system_dir = empty_system.path();  // forces apt-get download + dpkg-deb -x
  EXPECT_FALSE(timed_fetch("fashion-mnist", dir.path(), o).already_present);
  EXPECT_EQ(histogram(load_dataset("fashion-mnist", Split::kTrain, dir.path())),
            std::vector<int64_t>(10, 6000));
  EXPECT_EQ(histogram(load_dataset("fashion-mnist", Split::kTest, dir.path())),
            std::vector<int64_t>(10, 1000));
  EXPECT_TRUE(timed_fetch("fashion-mnist", dir.path(), o).already_present);
}

TEST_F(NetworkFetch, Cifar10) {
  testing::TempDir dir;
  EXPECT_FALSE(timed_fetch("cifar10", dir.path(), {}).already_present);
  const Dataset train = load_dataset("cifar10", Split::kTrain, dir.path());
  EXPECT_EQ(histogram(train), std::vector<int64_t>(10, 5000));
  EXPECT_EQ(histogram(subset(train, 0, 10000)),
            (std::vector<int64_t>{1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981}));
  EXPECT_EQ(histogram(load_dataset("cifar10", Split::kTest, dir.path())), std::vector<int64_t>(10, 1000));
  EXPECT_TRUE(timed_fetch("cifar10", dir.path(), {}).already_present);
}

}  // namespace
}  // namespace sprint::data
