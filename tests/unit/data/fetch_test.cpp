// fetch_test.cpp: the fetcher without network: resolve_data_dir precedence, unknown names, md5 verification
// of generated files, removal of bad files, atomicity on an md5 mismatch, idempotence on Debian's local copy
// of Fashion-MNIST (skipped when the package is not installed), and the child-process runner.
#include <gtest/gtest.h>

#include <chrono>

#include <cstdlib>

#include "data_test_util.h"
#include "sprint/core/error.h"
#include "sprint/data/fetch.h"
#include "sprint/data/md5.h"
#include "sprint/data/process.h"
#include "support/test_util.h"

namespace sprint::data {
namespace {
namespace fs = std::filesystem;

template <class E, class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing \"" << *parts.begin() << "\"";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& p : parts)
      EXPECT_NE(what.find(p), std::string::npos) << "missing \"" << p << "\" in: " << what;
  }
}

// Sets (or unsets, with nullptr) an environment variable for the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    had_ = std::getenv(name) != nullptr;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_)
      setenv(name_.c_str(), old_.c_str(), 1);
    else
      unsetenv(name_.c_str());
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ResolveDataDir, FlagThenEnvironmentThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv data("SPRINT_DATA", "/data/sets");
    EXPECT_EQ(resolve_data_dir(fs::path("/from/flag")), fs::path("/from/flag"));
    EXPECT_EQ(resolve_data_dir(std::nullopt), fs::path("/data/sets"));
    EXPECT_EQ(resolve_data_dir(fs::path()), fs::path("/data/sets")) << "an empty flag counts as absent";
  }
  {
    ScopedEnv data("SPRINT_DATA", "");
    EXPECT_EQ(resolve_data_dir(std::nullopt), fs::path("/home/someone/.cache/sprint"));
  }
  {
    ScopedEnv data("SPRINT_DATA", nullptr);
    EXPECT_EQ(resolve_data_dir(std::nullopt), fs::path("/home/someone/.cache/sprint"));
    EXPECT_EQ(resolve_data_dir(fs::path("rel")), fs::current_path() / "rel") << "made absolute";
    ScopedEnv no_home("HOME", nullptr);
    expect_error<InvalidArgument>([] { resolve_data_dir(std::nullopt); }, {"SPRINT_DATA", "HOME"});
  }
}

TEST(FetchDataset, UnknownNameListsTheKnownOnes) {
  testing::TempDir dir;
  expect_error<InvalidArgument>([&] { fetch_dataset("imagenet", dir.path()); },
                                {"unknown data set \"imagenet\"", "mnist, fashion-mnist, cifar10"});
  EXPECT_TRUE(files_in(dir.path()).empty()) << "nothing created";
  EXPECT_EQ(known_datasets(), (std::vector<std::string>{"mnist", "fashion-mnist", "cifar10"}));
  EXPECT_EQ(expected_files("mnist").size(), 4u);
  EXPECT_EQ(expected_files("fashion-mnist").size(), 4u);
  EXPECT_TRUE(expected_files("fashion-mnist")[0].md5_of_gunzipped);
  EXPECT_EQ(expected_files("cifar10").size(), 7u);
  EXPECT_EQ(expected_files("cifar10")[6].md5, "728051cd483f366e254dddb25bead8b3");
}

TEST(VerifyMd5, RawAndGunzippedContent) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "abc.bin", "abc");
  testing::write_file(dir.path() / "abc.gz", testing::gzip("abc"));
  const ExpectedFile raw{"abc.bin", "900150983cd24fb0d6963f7d28e17f72", false};
  const ExpectedFile gz{"abc.gz", "900150983cd24fb0d6963f7d28e17f72", true};
  EXPECT_EQ(verify_md5(dir.path() / "abc.bin", raw), raw.md5);
  EXPECT_EQ(verify_md5(dir.path() / "abc.gz", gz), gz.md5);
  const ExpectedFile wrong{"abc.bin", "0cc175b9c0f1b6a831c399e269772661", false};
  expect_error<FormatError>(
      [&] { verify_md5(dir.path() / "abc.bin", wrong); },
      {"md5 mismatch for " + (dir.path() / "abc.bin").string(), "expected 0cc175b9c0f1b6a831c399e269772661",
       "got 900150983cd24fb0d6963f7d28e17f72"});
  expect_error<FormatError>(
      [&] {
        verify_md5(dir.path() / "abc.gz", ExpectedFile{"abc.gz", raw.md5, false});
      },
      {"md5 mismatch"});  // the compressed bytes are not what the md5 describes
  expect_error<IoError>([&] { verify_md5(dir.path() / "none", raw); }, {"none"});
}

TEST(FindUnverified, ReportsMissingAndRemovesBadFiles) {
  testing::TempDir dir;
  testing::write_file(dir.path() / "good.bin", "abc");
  testing::write_file(dir.path() / "good.gz", testing::gzip("message digest"));
  testing::write_file(dir.path() / "bad.bin", "abd");
  testing::write_file(dir.path() / "corrupt.gz", "\x1f\x8b not really gzip");
  const std::vector<ExpectedFile> files = {
      {"good.bin", "900150983cd24fb0d6963f7d28e17f72", false},
      {"good.gz", "f96b697d7cb7938d525a2f31aaf161d0", true},
      {"bad.bin", "900150983cd24fb0d6963f7d28e17f72", false},
      {"corrupt.gz", "900150983cd24fb0d6963f7d28e17f72", true},
      {"missing.bin", "900150983cd24fb0d6963f7d28e17f72", false},
  };
  std::vector<std::string> log;
  const std::vector<ExpectedFile> bad =
      find_unverified(dir.path(), files, [&](std::string_view line) { log.emplace_back(line); });
  ASSERT_EQ(bad.size(), 3u);
  EXPECT_EQ(bad[0].name, "bad.bin");
  EXPECT_EQ(bad[1].name, "corrupt.gz");
  EXPECT_EQ(bad[2].name, "missing.bin");
  EXPECT_EQ(files_in(dir.path()), (std::vector<std::string>{"good.bin", "good.gz"})) << "bad files removed";
  EXPECT_EQ(log.size(), 5u);
  EXPECT_TRUE(find_unverified(dir.path(), std::span(files).first(2)).empty())
      << "the verified subset is complete";
}

// A fake /usr/share/datasets whose Fashion-MNIST files have the wrong content: the fetch must fail with the
// md5 mismatch and leave nothing (no partial, no temporary) in the target directory.
TEST(FetchDataset, Md5MismatchLeavesNoFiles) {
  testing::TempDir system, data;
  fs::create_directories(system.path() / "fashion-mnist");
  for (const ExpectedFile& f : expected_files("fashion-mnist"))
    testing::write_file(system.path() / "fashion-mnist" / f.name, testing::gzip("not the real " + f.name));
  FetchOptions o;
  o.system_dir = system.path();
  expect_error<FormatError>(
      [&] { fetch_dataset("fashion-mnist", data.path(), o); },
      {"md5 mismatch for " + (data.path() / "fashion-mnist" / "train-images-idx3-ubyte.gz").string(),
       "expected f4a8712d7a061bf5bd6d2ca38dc4d50a",
       "got " + md5_hex("not the real train-images-idx3-ubyte.gz"), "the file was removed"});
  EXPECT_TRUE(files_in(data.path() / "fashion-mnist").empty());
  EXPECT_EQ(files_in(data.path()), (std::vector<std::string>{"fashion-mnist"})) << "work directory removed";
}

// Uses Debian's dataset-fashion-mnist when it is installed (no network either way).
TEST(FetchDataset, IdempotentOnDebiansFashionMnist) {
  const fs::path system = "/usr/share/datasets";
  for (const ExpectedFile& f : expected_files("fashion-mnist"))
    if (!fs::is_regular_file(system / "fashion-mnist" / f.name))
      GTEST_SKIP() << "dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)";
  testing::TempDir data;
  std::vector<std::string> log;
  FetchOptions o;
  o.log = [&](std::string_view line) { log.emplace_back(line); };
  const FetchResult first = fetch_dataset("fashion-mnist", data.path(), o);
  EXPECT_FALSE(first.already_present);
  EXPECT_EQ(first.dir, data.path() / "fashion-mnist");
  EXPECT_EQ(files_in(first.dir),
            (std::vector<std::string>{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                      "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}));
  const FetchResult second = fetch_dataset("fashion-mnist", data.path(), o);
  EXPECT_TRUE(second.already_present);
  EXPECT_EQ(second.files, first.files);
  // A damaged file is detected, removed and fetched again.
  testing::write_file(first.dir / "t10k-labels-idx1-ubyte.gz", testing::gzip("damaged"));
  const FetchResult third = fetch_dataset("fashion-mnist", data.path(), o);
  EXPECT_FALSE(third.already_present);
  EXPECT_TRUE(fetch_dataset("fashion-mnist", data.path(), o).already_present);
}

TEST(RunProgram, MissingProgramFailureOutputAndWorkingDirectory) {
  testing::TempDir dir;
  expect_error<IoError>(
      [&] {
        run_program({.argv = {"sprint-no-such-program-xyz"},
                     .cwd = dir.path(),
                     .log_path = dir.path() / "log",
                     .install_hint = "apt-get install xyz"});
      },
      {"sprint-no-such-program-xyz not found on PATH: install it (apt-get install xyz)"});
  expect_error<IoError>(
      [&] {
        run_program({.argv = {"sh", "-c", "echo first; echo boom >&2; exit 3"},
                     .cwd = dir.path(),
                     .log_path = dir.path() / "log"});
      },
      {"`sh -c echo first; echo boom >&2; exit 3` failed (exit status 3)", "first\nboom"});
  run_program({.argv = {"sh", "-c", "pwd; echo \"$SPRINT_TEST_VAR\""},
               .cwd = dir.path(),
               .log_path = dir.path() / "log",
               .env = {"SPRINT_TEST_VAR=passed"}});
  EXPECT_EQ(file_tail(dir.path() / "log"), fs::canonical(dir.path()).string() + "\npassed");
  testing::write_file(dir.path() / "many", [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += "line " + std::to_string(i) + "\n";
    return s;
  }());
  EXPECT_EQ(file_tail(dir.path() / "many", 2), "line 98\nline 99");
}

// while_running is called while the child runs (a progress line's redraw); when it throws, the child is killed
// and the exception reaches the caller.
TEST(RunProgram, CallsBackWhileTheProgramRunsAndStopsItOnAnException) {
  testing::TempDir dir;
  int calls = 0;
  run_program({.argv = {"sh", "-c", "sleep 0.5; echo done"},
               .cwd = dir.path(),
               .log_path = dir.path() / "log",
               .while_running = [&] { ++calls; }});
  EXPECT_GE(calls, 2);
  EXPECT_EQ(file_tail(dir.path() / "log"), "done");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(run_program({.argv = {"sleep", "30"},
                            .cwd = dir.path(),
                            .log_path = dir.path() / "log",
                            .while_running = [] { throw std::runtime_error("stop"); }}),
               std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10)) << "the child was not killed";
}

TEST(ScopedTempDir, RemovedWithItsContent) {
  testing::TempDir parent;
  fs::path inside;
  {
    ScopedTempDir t(parent.path(), ".work-");
    inside = t.path();
    EXPECT_TRUE(fs::is_directory(inside));
    EXPECT_EQ(inside.filename().string().rfind(".work-", 0), 0u);
    testing::write_file(inside / "f", "x");
  }
  EXPECT_FALSE(fs::exists(inside));
}

}  // namespace
}  // namespace sprint::data
