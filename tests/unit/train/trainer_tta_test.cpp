// trainer_tta_test.cpp: Trainer::evaluate with test-time augmentation (TrainerOptions::tta) scores the weighted sum
// of the model's outputs over airbench94's views, computed here view by view with the reference translate_flip; the
// trainer refuses TTA levels outside 0..2 and TTA or augmentation on feature data.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "sprint/core/error.h"
#include "sprint/ops/augment.h"
#include "sprint/ops/data.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/trainer.h"
#include "train_test_data.h"

namespace sprint::train {
namespace {

data::Dataset images(int64_t n, uint64_t seed) { return test_data::random_images(n, 5, 6, seed); }

struct View {
  int shift;
  bool flip;
  double weight;
};

// Loss and accuracy of `model` on all of `test` (one batch) scored on sum_v weight_v · net(view_v(x)).
EvalStats by_hand(nn::Model& model, const data::Dataset& test, const std::vector<View>& views) {
  const Stream s = cpu_context().compute_stream();
  Generator rng(0);
  nn::RunContext ctx{s, &rng, nn::BufferKey::micro_batch(3)};
  model.net->eval();
  const int64_t n = test.size();
  Tensor idx = Tensor::empty({n}, DType::kI32);
  for (int64_t i = 0; i < n; ++i) idx.data_as<int32_t>()[i] = static_cast<int32_t>(i);
  Tensor x = Tensor::empty({n, 2, 5, 6}, DType::kF32);
  cpu::ref::gather_normalize({.src = test.inputs, .indices = idx, .out = x, .mean = test.mean, .std = test.std});
  std::vector<double> sum;
  for (const View& v : views) {
    Tensor view = Tensor::empty(x.shape(), DType::kF32);
    cpu::ref::translate_flip({.x = x, .out = view, .shift_y = v.shift, .shift_x = v.shift, .flip = v.flip});
    const std::vector<double> out = model.net->forward(ctx, view).to_vector<double>();
    sum.resize(out.size(), 0.0);
    for (size_t k = 0; k < out.size(); ++k) sum[k] += v.weight * out[k];
  }
  std::vector<float> as_float(sum.begin(), sum.end());
  const Tensor logits = Tensor::from_values(as_float, {n, 3});
  EvalStats e;
  e.samples = n;
  e.loss = model.loss->forward(ctx, logits, test.labels).to_vector<double>()[0];
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<size_t>(i * 3);
    const auto first = sum.begin() + static_cast<std::ptrdiff_t>(row);
    const auto best = static_cast<size_t>(std::max_element(first, first + 3) - first);
    correct += static_cast<int64_t>(best) == test.labels.data_as<int32_t>()[i] ? 1 : 0;
  }
  e.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  model.net->train();
  return e;
}

// An mlp for `d` and SGD over its parameters.
struct TrainSetup {
  nn::Model model;
  std::unique_ptr<optim::SGD> sgd;
};
TrainSetup make_setup(const data::Dataset& d, uint64_t seed) {
  Generator init(seed);
  TrainSetup s{nn::build_model("mlp", d.sample_shape(), d.num_classes, init), nullptr};
  s.sgd = std::make_unique<optim::SGD>(optim::single_group(*s.model.net), optim::SGDOptions(0.1));
  return s;
}

TrainerOptions cpu_options(int tta, int64_t eval_batch_size) {
  TrainerOptions o;
  o.batch_size = 8;
  o.eval_batch_size = eval_batch_size;
  o.num_workers = 0;
  o.tta = tta;
  return o;
}

TEST(TrainerTta, EvaluateScoresTheWeightedViews) {
  const data::Dataset train = images(24, 1), test = images(37, 2);
  const std::vector<std::vector<View>> levels = {
      {{0, false, 1.0}},
      {{0, false, 0.5}, {0, true, 0.5}},
      {{0, false, 0.25}, {0, true, 0.25}, {-1, false, 0.125}, {-1, true, 0.125}, {1, false, 0.125}, {1, true, 0.125}}};
  for (int level = 0; level <= 2; ++level) {
    SCOPED_TRACE(level);
    TrainSetup setup = make_setup(test, 7);
    TrainerOptions o = cpu_options(level, 37);
    o.augment = {.crop_padding = 1, .flip = data::FlipMode::kAlternating};
    Trainer trainer(setup.model, *setup.sgd, train, test, o);
    trainer.run_epoch(1, 1);  // a trained (non-symmetric) model
    const EvalStats got = trainer.evaluate();
    const EvalStats want = by_hand(setup.model, test, levels[static_cast<size_t>(level)]);
    EXPECT_EQ(got.samples, 37);
    EXPECT_NEAR(got.loss, want.loss, 1e-5);
    EXPECT_DOUBLE_EQ(got.accuracy, want.accuracy);
  }
}

TEST(TrainerTta, ShortLastBatchUsesTheSameViews) {
  const data::Dataset train = images(16, 3), test = images(21, 4);
  TrainSetup setup = make_setup(test, 1);
  Trainer whole(setup.model, *setup.sgd, train, test, cpu_options(2, 21));
  const EvalStats one = whole.evaluate();
  Trainer split(setup.model, *setup.sgd, train, test, cpu_options(2, 8));  // 8 + 8 + 5
  const EvalStats three = split.evaluate();
  EXPECT_NEAR(one.loss, three.loss, 1e-5);
  EXPECT_DOUBLE_EQ(one.accuracy, three.accuracy);
}

// A CPU evaluation batch larger than 256 runs in chunks of 256 (per-sample evaluation): the same views, loss and
// accuracy as small batches (the layers' buffers are then sized for a chunk, not the batch).
TEST(TrainerTta, LargeEvaluationBatchesRunInChunks) {
  const data::Dataset train = images(16, 5), test = images(700, 6);
  TrainSetup setup = make_setup(test, 2);
  Trainer small(setup.model, *setup.sgd, train, test, cpu_options(2, 50));
  const EvalStats in_batches_of_50 = small.evaluate();
  Trainer large(setup.model, *setup.sgd, train, test, cpu_options(2, 700));  // 256 + 256 + 188
  const EvalStats in_one_batch = large.evaluate();
  EXPECT_EQ(in_one_batch.samples, 700);
  EXPECT_NEAR(in_one_batch.loss, in_batches_of_50.loss, 1e-5);
  EXPECT_DOUBLE_EQ(in_one_batch.accuracy, in_batches_of_50.accuracy);
  EXPECT_EQ(in_one_batch.accuracy, by_hand(setup.model, test, {{0, false, 0.25}, {0, true, 0.25},
                                                               {-1, false, 0.125}, {-1, true, 0.125},
                                                               {1, false, 0.125}, {1, true, 0.125}}).accuracy);
}

TEST(TrainerTta, InvalidSettingsGiveClearErrors) {
  const data::Dataset train = images(8, 5), test = images(8, 6);
  TrainSetup images_setup = make_setup(test, 1);
  EXPECT_THROW({ Trainer t(images_setup.model, *images_setup.sgd, train, test, cpu_options(3, 8)); }, InvalidArgument);
  const data::Dataset features = data::make_random_dataset(20, 4, 2, 1);
  TrainSetup features_setup = make_setup(features, 1);
  EXPECT_THROW({ Trainer t(features_setup.model, *features_setup.sgd, features, features, cpu_options(1, 8)); },
               InvalidArgument);
  TrainerOptions o = cpu_options(0, 8);
  o.augment.cutout = 2;
  EXPECT_THROW({ Trainer t(features_setup.model, *features_setup.sgd, features, features, o); }, InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
