// tensorboard_test.cpp: `sprint train --tensorboard DIR` on the random data set writes one event file whose
// records (read with tests/support's independent reader, CRCs checked) hold the five scalars of every epoch at
// step = optimizer steps, with the report's values, and final/tta_accuracy after --tta; the option is in the
// report's config, works from a recipe and may be given with --resume; an unusable directory is one error line
// before any training.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "run_command.h"
#include "support/test_util.h"
#include "support/tfrecord_reader.h"

namespace sprint::testing {
namespace {
namespace fs = std::filesystem;

std::vector<fs::path> event_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().starts_with("events.out.tfevents.")) files.push_back(entry.path());
  return files;
}

const std::vector<std::string> kTrain = {"train",     "--dataset",  "random",       "--model", "mlp",
                                         "--samples", "100",        "--batch-size", "20",      "--epochs",
                                         "2",         "--progress", "off"};

TEST(TensorBoard, TrainWritesTheScalarsOfEveryEpoch) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "tb" / "run1", report = tmp.path() / "run.json";
  std::vector<std::string> args = kTrain;
  args.insert(args.end(), {"--tensorboard", dir.string(), "--report", report.string()});
  const CommandResult r = run_sprint(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::vector<fs::path> files = event_files(dir);
  ASSERT_EQ(files.size(), 1u);
  std::vector<DecodedEvent> events;
  for (const std::string& payload : read_tfrecords(read_text_file(files[0].string())))
    events.push_back(decode_event(payload));
  ASSERT_EQ(events.size(), 1u + 2u * 5u);  // the version record, then 5 scalars for each of 2 epochs
  EXPECT_EQ(events[0].file_version, "brain.Event:2");

  const nlohmann::json j = nlohmann::json::parse(read_text_file(report.string()));
  EXPECT_EQ(j["config"]["tensorboard"], dir.string());
  std::map<std::string, std::vector<std::pair<int64_t, float>>> by_tag;
  for (size_t i = 1; i < events.size(); ++i) {
    ASSERT_EQ(events[i].values.size(), 1u);
    by_tag[events[i].values[0].first].emplace_back(events[i].step, events[i].values[0].second);
  }
  ASSERT_EQ(by_tag.size(), 5u);
  const std::pair<const char*, const char*> tags[] = {{"train/loss", "train_loss"},
                                                      {"test/loss", "test_loss"},
                                                      {"test/accuracy", "test_accuracy"},
                                                      {"train/samples_per_second", "samples_per_second"}};
  for (int epoch = 0; epoch < 2; ++epoch) {
    const int64_t step = 4 * (epoch + 1);  // 80 training samples in batches of 20
    for (const auto& [tag, key] : tags) {
      SCOPED_TRACE(tag);
      ASSERT_EQ(by_tag[tag].size(), 2u);
      EXPECT_EQ(by_tag[tag][epoch].first, step);
      EXPECT_EQ(by_tag[tag][epoch].second, static_cast<float>(j["epochs"][epoch][key].get<double>()));
    }
    EXPECT_EQ(by_tag["lr"][epoch], std::make_pair(step, 0.01f));  // sgd's default, constant
  }
  EXPECT_EQ(by_tag.count("final/tta_accuracy"), 0u);  // no --tta
}

// --tta: after the epochs, final/tta_accuracy (the blank image stand-in: TTA needs images).
TEST(TensorBoard, FinalTestTimeAugmentationAccuracy) {
  TempDir tmp;
  const fs::path data_dir = write_blank_fashion_mnist(tmp.path()), dir = tmp.path() / "tb";
  const fs::path report = tmp.path() / "run.json";
  const CommandResult r = run_sprint({"train",
                                      "--model",
                                      "mlp",
                                      "--dataset",
                                      "fashion-mnist",
                                      "--data-dir",
                                      data_dir.string(),
                                      "--epochs",
                                      "1",
                                      "--limit-train",
                                      "64",
                                      "--limit-test",
                                      "32",
                                      "--batch-size",
                                      "32",
                                      "--tta",
                                      "1",
                                      "--progress",
                                      "off",
                                      "--tensorboard",
                                      dir.string(),
                                      "--report",
                                      report.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(event_files(dir).size(), 1u);
  const std::vector<std::string> records = read_tfrecords(read_text_file(event_files(dir)[0].string()));
  ASSERT_EQ(records.size(), 1u + 5u + 1u);
  const DecodedEvent last = decode_event(records.back());
  ASSERT_EQ(last.values.size(), 1u);
  EXPECT_EQ(last.values[0].first, "final/tta_accuracy");
  EXPECT_EQ(last.step, 2);  // 64 samples in batches of 32
  const nlohmann::json j = nlohmann::json::parse(read_text_file(report.string()));
  EXPECT_EQ(last.values[0].second, static_cast<float>(j["final"]["tta_test_accuracy"].get<double>()));
}

TEST(TensorBoard, FromARecipe) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "tb";
  write_file(tmp.path() / "r.toml",
             "dataset = \"random\"\nepochs = 1\ntensorboard = \"" + dir.string() + "\"\n");
  const CommandResult r =
      run_sprint({"train", "--recipe", (tmp.path() / "r.toml").string(), "--progress", "off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(event_files(dir).size(), 1u);
  EXPECT_EQ(read_tfrecords(read_text_file(event_files(dir)[0].string())).size(), 1u + 5u);
}

// --tensorboard is an output, like --report: a resumed run may send its scalars elsewhere.
TEST(TensorBoard, AResumedRunMayWriteElsewhere) {
  TempDir tmp;
  const fs::path checkpoints = tmp.path() / "ckpt", first = tmp.path() / "first",
                 second = tmp.path() / "second";
  std::vector<std::string> args = kTrain;
  args.insert(args.end(), {"--checkpoint-dir", checkpoints.string(), "--tensorboard", first.string()});
  ASSERT_EQ(run_sprint(args).exit_code, 0);
  const CommandResult r =
      run_sprint({"train", "--resume", checkpoints.string(), "--tensorboard", second.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(event_files(second).size(), 1u);  // nothing was left to train: the version record only
  EXPECT_EQ(read_tfrecords(read_text_file(event_files(second)[0].string())).size(), 1u);
  EXPECT_EQ(event_files(first).size(), 1u);
}

TEST(TensorBoard, AnUnusableDirectoryIsOneLineBeforeTraining) {
  TempDir tmp;
  write_file(tmp.path() / "file", "x");
  std::vector<std::string> args = kTrain;
  args.insert(args.end(), {"--tensorboard", (tmp.path() / "file" / "tb").string()});
  const CommandResult r = run_sprint(args);
  EXPECT_EQ(r.exit_code, 4) << r.err;  // I/O
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--tensorboard"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("epoch"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sprint::testing
