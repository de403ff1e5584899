// event_writer.h: TensorBoard event files written by hand (no protobuf or TensorFlow library): TFRecord
// framing (tfrecord.h) around protocol-buffer `Event` messages (protobuf_wire.h) with the fields TensorBoard
// reads:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }    Value { string tag = 1; float simple_value = 2; }
// The first record carries file_version "brain.Event:2"; each scalar is one Event with one Value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace sprint::profile {

/// The payload of the first record of an event file: Event{wall_time, file_version = "brain.Event:2"}.
std::string encode_file_version_event(double wall_time);
/// The payload of a scalar record: Event{wall_time, step, summary{value{tag, simple_value}}}.
std::string encode_scalar_event(double wall_time, int64_t step, std::string_view tag, float value);

/// Appends scalars to a new event file DIR/events.out.tfevents.<unix seconds>.<hostname> (".N" added when a
/// file of that name exists). Records are buffered and written by flush(); the file holds only whole records
/// after every flush, so TensorBoard can read it while the run goes on. Not thread-safe.
class EventWriter {
 public:
  /// Creates `dir` when missing (data::prepare_output_directory) and the event file in it, and writes the
  /// file-version record. `what` names the directory in messages ("--tensorboard"). Throws IoError.
  explicit EventWriter(const std::filesystem::path& dir, std::string_view what = "event directory");
  /// Flushes what is pending; a failure there is logged, not thrown.
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  /// Queues one scalar, e.g. add_scalar("train/loss", 0.31, 1200). `tag` must not be empty (InvalidArgument).
  /// The wall time is the time of this call.
  void add_scalar(std::string_view tag, double value, int64_t step);
  /// Writes the queued records and syncs the file. Throws IoError naming the file; a failed write is cut back
  /// to the last whole record and its records are dropped.
  void flush();

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::string pending_;   // framed records not yet written
  uint64_t written_ = 0;  // bytes of whole records in the file
};

}  // namespace sprint::profile
