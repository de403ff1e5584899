// event_writer_test.cpp: Event payloads decoded field by field, event files read back record by record after
// every flush, the file name and directory handling, errors, and an outside opinion: `protoc --decode_raw` on
// a written record (skipped, visibly, when protoc is not installed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>

#include "sprint/core/error.h"
#include "sprint/data/process.h"
#include "sprint/profile/event_writer.h"
#include "support/test_util.h"
#include "support/tfrecord_reader.h"

namespace sprint::profile {
namespace {
namespace fs = std::filesystem;

std::vector<testing::DecodedEvent> read_events(const fs::path& path) {
  std::vector<testing::DecodedEvent> events;
  for (const std::string& payload : testing::read_tfrecords(testing::read_file(path)))
    events.push_back(testing::decode_event(payload));
  return events;
}

TEST(EventWriter, EncodesScalarEvents) {
  const testing::DecodedEvent e =
      testing::decode_event(encode_scalar_event(1700000000.25, 42, "train/loss", 0.5f));
  EXPECT_EQ(e.wall_time, 1700000000.25);
  EXPECT_EQ(e.step, 42);
  EXPECT_EQ(e.file_version, "");
  ASSERT_EQ(e.values.size(), 1u);
  EXPECT_EQ(e.values[0].first, "train/loss");
  EXPECT_EQ(e.values[0].second, 0.5f);

  const testing::DecodedEvent v = testing::decode_event(encode_file_version_event(12.5));
  EXPECT_EQ(v.file_version, "brain.Event:2");
  EXPECT_EQ(v.wall_time, 12.5);
  EXPECT_TRUE(v.values.empty());
}

TEST(EventWriter, WritesAValidFileAfterEveryFlush) {
  testing::TempDir tmp;
  const fs::path dir = tmp.path() / "runs" / "a";  // created, parents too
  const double before = static_cast<double>(std::time(nullptr));
  EventWriter writer(dir, "--tensorboard");
  ASSERT_EQ(writer.path().parent_path(), dir);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string name = writer.path().filename().string(), prefix = "events.out.tfevents.";
  const std::string suffix = "." + std::string(host);
  ASSERT_TRUE(name.starts_with(prefix) && name.ends_with(suffix)) << name;
  const std::string seconds = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  EXPECT_TRUE(std::regex_match(seconds, std::regex("[0-9]{10}"))) << name;
  EXPECT_NEAR(std::stod(seconds), before, 5.0);

  std::vector<testing::DecodedEvent> events =
      read_events(writer.path());  // the version record is written at once
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_GE(events[0].wall_time, before - 1);

  writer.add_scalar("train/loss", 2.25, 10);
  writer.add_scalar("test/accuracy", 0.75, 10);
  EXPECT_EQ(read_events(writer.path()).size(), 1u);  // buffered until flush
  writer.flush();
  events = read_events(writer.path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].step, 10);
  ASSERT_EQ(events[1].values.size(), 1u);
  EXPECT_EQ(events[1].values[0], std::make_pair(std::string("train/loss"), 2.25f));
  EXPECT_EQ(events[2].values[0], std::make_pair(std::string("test/accuracy"), 0.75f));

  writer.add_scalar("lr", 0.01, 20);
  writer.flush();
  writer.flush();  // nothing pending: nothing written
  events = read_events(writer.path());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[3].step, 20);
  EXPECT_EQ(events[3].values[0].second, 0.01f);
  EXPECT_GE(events[3].wall_time, events[1].wall_time);
}

TEST(EventWriter, NeverReusesAFile) {
  testing::TempDir tmp;
  EventWriter a(tmp.path());
  EventWriter b(tmp.path());  // same second, same host: a suffix
  EXPECT_NE(a.path(), b.path());
  int files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path()))
    files += entry.path().filename().string().starts_with("events.out.tfevents.") ? 1 : 0;
  EXPECT_EQ(files, 2);
}

TEST(EventWriter, TheDestructorFlushes) {
  testing::TempDir tmp;
  fs::path path;
  {
    EventWriter writer(tmp.path());
    path = writer.path();
    writer.add_scalar("x", 1.0, 1);
  }
  EXPECT_EQ(read_events(path).size(), 2u);
}

TEST(EventWriter, Errors) {
  testing::TempDir tmp;
  testing::write_file(tmp.path() / "file", "not a directory");
  try {
    EventWriter writer(tmp.path() / "file" / "sub", "--tensorboard");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("--tensorboard"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find((tmp.path() / "file" / "sub").string()), std::string::npos)
        << e.what();
  }
  EventWriter writer(tmp.path());
  EXPECT_THROW(writer.add_scalar("", 1.0, 0), InvalidArgument);
}

// protoc's own decoder of the wire format must see the same fields: tag 1 "train/loss", simple_value 2 as the
// float's bits, step 2.
TEST(EventWriter, ProtocDecodesTheRecords) {
  const fs::path protoc = testing::find_on_path("protoc");
  if (protoc.empty()) GTEST_SKIP() << "protoc is not on PATH (apt-get install protobuf-compiler)";
  testing::TempDir tmp;
  fs::path path;
  {
    EventWriter writer(tmp.path());
    writer.add_scalar("train/loss", 1.5, 1234);
    path = writer.path();
  }
  const std::vector<std::string> records = testing::read_tfrecords(testing::read_file(path));
  ASSERT_EQ(records.size(), 2u);
  for (size_t i = 0; i < records.size(); ++i)
    testing::write_file(tmp.path() / ("r" + std::to_string(i)), records[i]);
  const auto decode = [&](const std::string& name) {
    data::run_program({.argv = {protoc.string(), "--decode_raw"},
                       .cwd = tmp.path(),
                       .log_path = tmp.path() / (name + ".txt"),
                       .stdin_path = tmp.path() / name});
    return testing::read_file(tmp.path() / (name + ".txt"));
  };
  const std::string version = decode("r0");
  EXPECT_NE(version.find("3: \"brain.Event:2\""), std::string::npos) << version;
  const std::string scalar = decode("r1");
  EXPECT_NE(scalar.find("2: 1234\n"), std::string::npos) << scalar;
  EXPECT_NE(scalar.find("1: \"train/loss\""), std::string::npos) << scalar;
  EXPECT_NE(scalar.find(fmt::format("2: 0x{:08x}", std::bit_cast<uint32_t>(1.5f))), std::string::npos)
      << scalar;
  EXPECT_NE(scalar.find("5 {"), std::string::npos) << scalar;
}

}  // namespace
}  // namespace sprint::profile
