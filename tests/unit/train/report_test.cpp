// report_test.cpp: a --report document read back by parse_report_json (what `sprint plot` reads): every field
// report_json writes survives the round trip, NaN losses (written as null) come back as NaN, and text that is
// not a report is a FormatError naming its source.
#include <gtest/gtest.h>

#include <cmath>

#include "sprint/core/error.h"
#include "sprint/train/report.h"

namespace sprint::train {
namespace {

TEST(Report, ParsesWhatReportJsonWrites) {
  RunReport r;
  r.model = "mlp";
  r.dataset = "random";
  r.device = "cpu";
  r.config = {{"epochs", "2"}, {"tensorboard", "runs/a"}};
  r.status = "completed";
  r.requested_epochs = 2;
  r.epochs.push_back({.epoch = 1,
                      .train_loss = 0.75,
                      .train_seconds = 0.5,
                      .samples_per_second = 160,
                      .train_samples = 80,
                      .test = {.loss = 0.7, .accuracy = 0.55, .samples = 20}});
  r.epochs.push_back({.epoch = 2,
                      .train_loss = NAN,
                      .train_seconds = 0.25,
                      .samples_per_second = 320,
                      .train_samples = 80,
                      .test = {.loss = 0.5, .accuracy = 0.8, .samples = 20}});
  r.tta = EvalStats{.loss = 0.45, .accuracy = 0.85, .samples = 20};
  r.tta_level = 2;
  const RunReport back = parse_report_json(report_json(r), "run.json");
  EXPECT_EQ(back.model, "mlp");
  EXPECT_EQ(back.dataset, "random");
  EXPECT_EQ(back.device, "cpu");
  EXPECT_EQ(back.status, "completed");
  EXPECT_EQ(back.requested_epochs, 2.0);
  EXPECT_EQ(back.config, r.config);
  ASSERT_EQ(back.epochs.size(), 2u);
  EXPECT_EQ(back.epochs[0].epoch, 1);
  EXPECT_EQ(back.epochs[0].train_loss, 0.75);
  EXPECT_EQ(back.epochs[0].test.loss, 0.7);
  EXPECT_EQ(back.epochs[0].test.accuracy, 0.55);
  EXPECT_EQ(back.epochs[0].test.samples, 0);  // the report does not keep it
  EXPECT_EQ(back.epochs[0].train_samples, 80);
  EXPECT_EQ(back.epochs[0].train_seconds, 0.5);
  EXPECT_EQ(back.epochs[0].samples_per_second, 160.0);
  EXPECT_TRUE(std::isnan(back.epochs[1].train_loss));
  ASSERT_TRUE(back.tta.has_value());
  EXPECT_EQ(back.tta->accuracy, 0.85);
  EXPECT_EQ(back.tta->loss, 0.45);
  EXPECT_EQ(back.tta_level, 2);
}

TEST(Report, RejectsWhatIsNotAReport) {
  for (const char* text : {"not json", "[1, 2]", "{\"model\": \"mlp\"}", "{\"epochs\": 3}",
                           "{\"epochs\": [{\"epoch\": 1}]}", "{\"epochs\": [{\"epoch\": \"one\"}]}"}) {
    SCOPED_TRACE(text);
    try {
      parse_report_json(text, "some/run.json");
      ADD_FAILURE() << "expected FormatError";
    } catch (const FormatError& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with("some/run.json: ")) << e.what();
    }
  }
  EXPECT_TRUE(
      parse_report_json("{\"epochs\": []}", "x").epochs.empty());  // valid, if empty: the caller decides
}

}  // namespace
}  // namespace sprint::train
