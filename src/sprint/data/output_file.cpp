// output_file.cpp: atomic replacement of regular files, streaming into pipes and devices (see output_file.h).
#include "sprint/data/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "sprint/core/error.h"
#include "sprint/data/file_io.h"

namespace sprint::data {
namespace {
namespace fs = std::filesystem;

std::string os_reason(int err) { return std::strerror(err); }

bool under_pseudo_fs(const fs::path& p) {
  const std::string s = p.lexically_normal().string();
  return s.starts_with("/dev/") || s.starts_with("/proc/");
}

// The path a write goes to: symbolic links resolved (a dangling link's target is created).
fs::path resolved(const fs::path& path) {
  std::error_code ec;
  fs::path p = path;
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(p, ec)); ++hops) {
    fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  return p;
}

// A stream target: a FIFO, character device or socket, or a name under /dev or /proc.
bool is_stream(const fs::path& path, const fs::path& target) {
  if (under_pseudo_fs(path) || under_pseudo_fs(target)) return true;
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode);
}

void write_stream(const fs::path& path, std::span<const uint8_t> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) SPRINT_THROW(IoError, "cannot write {}: {}", path.string(), os_reason(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      SPRINT_THROW(IoError, "cannot write {}: {}", path.string(), os_reason(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) SPRINT_THROW(IoError, "cannot write {}: {}", path.string(), os_reason(errno));
}

std::atomic<uint64_t> g_counter{0};

void replace_atomically(const fs::path& target, std::span<const uint8_t> bytes) {
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // A short temporary name, so that a target name of the file system's maximum length still works.
  const fs::path tmp = dir / fmt::format(".sprint-{}-{}.tmp", ::getpid(), g_counter.fetch_add(1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) SPRINT_THROW(IoError, "cannot write {}: {}", target.string(), os_reason(errno));
  auto fail = [&](int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    SPRINT_THROW(IoError, "cannot write {}: {}", target.string(), os_reason(err));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(n == 0 ? EIO : errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail(errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    SPRINT_THROW(IoError, "cannot write {}: {}", target.string(), os_reason(err));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    SPRINT_THROW(IoError, "cannot write {}: {}", target.string(), os_reason(err));
  }
  sync_directory_of(target);
}
}  // namespace

void check_output_path(const fs::path& path, std::string_view what) {
  if (path.empty()) SPRINT_THROW(IoError, "{}: the path is empty", what);
  const fs::path target = resolved(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) SPRINT_THROW(IoError, "{} {}: is a directory, expected a file name", what, path.string());
  if (is_stream(path, target)) {
    if (::access(target.c_str(), W_OK) != 0)
      SPRINT_THROW(IoError, "{} {}: cannot write: {}", what, path.string(), os_reason(errno));
    return;
  }
  if (target.filename().string().size() > NAME_MAX)
    SPRINT_THROW(IoError, "{} {}: {}", what, path.string(), os_reason(ENAMETOOLONG));
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec))
    SPRINT_THROW(IoError, "{} {}: directory {} does not exist", what, path.string(), dir.string());
  if (::access(dir.c_str(), W_OK) != 0)
    SPRINT_THROW(IoError, "{} {}: cannot write in {}: {}", what, path.string(), dir.string(), os_reason(errno));
  if (fs::exists(target, ec) && ::access(target.c_str(), W_OK) != 0)
    SPRINT_THROW(IoError, "{} {}: cannot write: {}", what, path.string(), os_reason(errno));
}

void write_output_text(const fs::path& path, std::string_view text) {
  write_output_file(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void write_output_file(const fs::path& path, std::span<const uint8_t> bytes) {
  if (path.empty()) SPRINT_THROW(IoError, "cannot write a file with an empty path");
  const fs::path target = resolved(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) SPRINT_THROW(IoError, "cannot write {}: it is a directory", path.string());
  if (is_stream(path, target)) return write_stream(path, bytes);
  replace_atomically(target, bytes);
}

void prepare_output_directory(const fs::path& dir, std::string_view what) {
  if (dir.empty()) SPRINT_THROW(IoError, "{}: the path is empty", what);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) SPRINT_THROW(IoError, "{} {}: cannot create the directory: {}", what, dir.string(), ec.message());
  if (!fs::is_directory(dir, ec)) SPRINT_THROW(IoError, "{} {}: not a directory", what, dir.string());
  if (::access(dir.c_str(), W_OK) != 0)
    SPRINT_THROW(IoError, "{} {}: cannot write in the directory: {}", what, dir.string(), os_reason(errno));
}

}  // namespace sprint::data
