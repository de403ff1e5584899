// event_writer.cpp: Event encoding and the append-only event file (see event_writer.h).
#include "sprint/profile/event_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "sprint/core/error.h"
#include "sprint/core/log.h"
#include "sprint/data/output_file.h"
#include "sprint/profile/protobuf_wire.h"
#include "sprint/profile/tfrecord.h"

namespace sprint::profile {
namespace {

// Field numbers of tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
constexpr int kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr int kSummaryValue = 1;
constexpr int kValueTag = 1, kValueSimpleValue = 2;
constexpr std::string_view kFileVersion = "brain.Event:2";

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host(name);
  for (char& c : host)
    if (c == '/') c = '_';
  return host;
}

// Opens a new file DIR/events.out.tfevents.<seconds>.<host>[.N]; never reuses an existing one.
int create_event_file(const std::filesystem::path& dir, std::filesystem::path& path) {
  const std::string base =
      fmt::format("events.out.tfevents.{}.{}", static_cast<int64_t>(now_seconds()), host_name());
  for (int n = 0; n < 1000; ++n) {
    path = dir / (n == 0 ? base : fmt::format("{}.{}", base, n));
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) return fd;
    if (errno != EEXIST) SPRINT_THROW(IoError, "cannot create {}: {}", path.string(), std::strerror(errno));
  }
  SPRINT_THROW(IoError, "cannot create an event file in {}: 1000 files named {}[.N] exist", dir.string(),
               base);
}

}  // namespace

std::string encode_file_version_event(double wall_time) {
  ProtoWriter event;
  event.add_double(kEventWallTime, wall_time);
  event.add_bytes(kEventFileVersion, kFileVersion);
  return event.bytes();
}

std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value) {
  ProtoWriter v;
  v.add_bytes(kValueTag, tag);
  v.add_float(kValueSimpleValue, value);
  ProtoWriter summary;
  summary.add_message(kSummaryValue, v);
  ProtoWriter event;
  event.add_double(kEventWallTime, wall_time);
  event.add_int64(kEventStep, step);
  event.add_message(kEventSummary, summary);
  return event.bytes();
}

EventWriter::EventWriter(const std::filesystem::path& dir, std::string_view what) {
  data::prepare_output_directory(dir, what);
  fd_ = create_event_file(dir, path_);
  append_tfrecord(pending_, encode_file_version_event(now_seconds()));
  try {
    flush();
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

EventWriter::~EventWriter() {
  try {
    flush();
  } catch (const Error& e) {
    log_warn("{}", e.what());
  }
  ::close(fd_);
}

void EventWriter::add_scalar(std::string_view tag, double value, int64_t step) {
  SPRINT_CHECK(!tag.empty(), "a TensorBoard scalar needs a tag");
  append_tfrecord(pending_, encode_scalar_event(now_seconds(), step, tag, static_cast<float>(value)));
}

void EventWriter::flush() {
  if (pending_.empty()) return;
  size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n == 0 ? EIO : errno;
      // Keep the file readable: drop the partial record (O_APPEND writes land at the end, where it starts).
      if (done > 0 && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0)
        log_warn("cannot cut {} back to its last whole record: {}", path_.string(), std::strerror(errno));
      pending_.clear();  // dropped: the destructor must not try again and report the same failure twice
      SPRINT_THROW(IoError, "cannot write {}: {}", path_.string(), std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  written_ += pending_.size();
  pending_.clear();
  if (::fsync(fd_) != 0) SPRINT_THROW(IoError, "cannot write {}: {}", path_.string(), std::strerror(errno));
}

}  // namespace sprint::profile
