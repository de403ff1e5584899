// checkpoint_test.cpp: model state_dicts (PyTorch names, logical layout, BatchNorm's num_batches_tracked) and
// checkpoint directories. The main property: a run saved mid-epoch and continued in a fresh process state
// (new model, optimizer and trainer, restored from the files only) ends with bit-identical weights to the run
// that never stopped. The model has a channel-blocked conv (weights kept blocked), BatchNorm, dropout (the
// generator's state), AdamW with a OneCycle schedule (step count and lr) and lookahead averaging.
#include <gtest/gtest.h>

#include <fstream>

#include "sprint/core/error.h"
#include "sprint/data/dataset.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/loss.h"
#include "sprint/ops/conv.h"
#include "sprint/optim/adam.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/checkpoint.h"
#include "support/test_util.h"
#include "train_test_data.h"

namespace sprint::train {
namespace {

data::Dataset images(int64_t n, uint64_t seed) { return test_data::random_images(n, 6, 6, seed); }

nn::Model make_model() { return test_data::tiny_conv_model(/*dropout=*/0.25); }

struct TrainingRun {
  nn::Model model = make_model();
  std::unique_ptr<optim::Adam> adam;
  std::unique_ptr<Trainer> trainer;
  TrainingRun(const data::Dataset& train, const data::Dataset& test, int64_t every,
      std::function<void(TrainingRun&)> on_checkpoint = nullptr) {
    const Stream s = cpu_context().compute_stream();
    adam = std::make_unique<optim::Adam>(optim::single_group(*model.net),
                                         optim::AdamOptions(0.01).decoupled().with_weight_decay(0.05));
    TrainerOptions o;
    o.batch_size = 10;
    o.eval_batch_size = 50;
    o.num_workers = 1;
    o.seed = 5;
    o.activation_format = ops::preferred_activation_format(s, DType::kF32);
    o.schedule = optim::one_cycle_schedule({.max_lr = 0.02, .total_steps = 3 * 9, .pct_start = 0.3});
    o.lookahead.every = 4;
    o.checkpoint_every = every;
    if (on_checkpoint) o.on_checkpoint = [this, on_checkpoint] { on_checkpoint(*this); };
    trainer = std::make_unique<Trainer>(model, *adam, train, test, o);
  }
  RunState state() {
    return {trainer->state(), adam->progress(), adam->named_state(optim::parameter_paths(*model.net)),
            adam->describe_update_sets(), {"train", "--test"}, "[]"};
  }
};

std::vector<data::NamedTensor> final_state(TrainingRun& r) {
  return model_state_dict(cpu_context().compute_stream(), *r.model.net);
}

void expect_same(const std::vector<data::NamedTensor>& a, const std::vector<data::NamedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    const size_t bytes = static_cast<size_t>(a[i].value.numel()) * dtype_size(a[i].value.dtype());
    EXPECT_EQ(std::memcmp(a[i].value.data(), b[i].value.data(), bytes), 0) << a[i].name << " differs";
  }
}

TEST(Checkpoint, StateDictHasPyTorchNamesAndLogicalLayout) {
  const data::Dataset train = images(90, 1), test = images(20, 2);  // outlive the trainer
  TrainingRun r(train, test, 0);
  r.trainer->run_epoch(1, 3);  // the conv's weights are in the kernels' blocked layout by now
  const auto state = final_state(r);
  std::vector<std::string> names;
  for (const auto& t : state) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "5.weight", "5.bias",
                                             "1.running_mean", "1.running_var", "1.num_batches_tracked"}));
  EXPECT_EQ(state[0].value.shape(), (Shape{8, 2, 3, 3}));
  EXPECT_TRUE(state[0].value.is_contiguous());
  EXPECT_EQ(state.back().value.dtype(), DType::kI64);
  EXPECT_EQ(state.back().value.data_as<int64_t>()[0], 9) << "one BatchNorm update per training batch";
  // Logical values: the blocked weight read back element by element.
  const auto& conv = static_cast<nn::Conv2d&>((*r.model.net)[0]);
  EXPECT_EQ(state[0].value.to_vector<float>(), conv.weight()->value().to_vector<float>());
}

TEST(Checkpoint, LoadIsStrictByDefaultAndReportsWhatItSkipped) {
  const Stream s = cpu_context().compute_stream();
  const data::Dataset train = images(90, 1), test = images(20, 2);
  TrainingRun a(train, test, 0);
  a.trainer->run_epoch(1, 1);
  testing::TempDir dir;
  save_weights(dir.path() / "w.safetensors", s, *a.model.net, "tiny", 9);
  TrainingRun b(train, test, 0);
  const data::SafetensorsFile file = data::read_safetensors(dir.path() / "w.safetensors");
  EXPECT_EQ(file.metadata_value("model"), "tiny");
  EXPECT_EQ(file.metadata_value("step"), "9");
  const LoadResult r = load_model_state(s, *b.model.net, file, true);
  EXPECT_EQ(r.loaded.size(), 9u);
  expect_same(final_state(a), final_state(b));

  // A model with another head: strict refuses and names the tensors; partial loads the rest.
  nn::Sequential other;
  Generator rng(1);
  nn::ConvOptions conv(2, 8, 3);
  conv.padding = 1;
  other.emplace<nn::Conv2d>(conv, rng);
  other.emplace<nn::BatchNorm2d>(nn::BatchNormOptions(8));
  other.emplace<nn::ReLU>();
  other.emplace<nn::Flatten>();
  other.emplace<nn::Dropout>(0.25);
  other.emplace<nn::Linear>(nn::LinearOptions(8 * 36, 5), rng);
  other.emplace<nn::Linear>(nn::LinearOptions(5, 2), rng);
  try {
    load_model_state(s, other, file, true);
    FAIL() << "strict load accepted a mismatching model";
  } catch (const FormatError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("w.safetensors does not fit the model"), std::string::npos) << what;
    EXPECT_NE(what.find("missing: 6.weight, 6.bias"), std::string::npos) << what;
    EXPECT_NE(what.find("wrong shape: 5.weight (file [3, 288], model [5, 288])"), std::string::npos) << what;
  }
  const LoadResult partial = load_model_state(s, other, file, false);
  EXPECT_EQ(partial.loaded.size(), 7u);  // the conv (2), BatchNorm (2 + 2 statistics + counter); not the head
  EXPECT_EQ(partial.missing, (std::vector<std::string>{"6.weight", "6.bias"}));
  EXPECT_EQ(partial.mismatched.size(), 2u);
}

TEST(Checkpoint, ResumedRunIsBitIdenticalToTheUninterruptedOne) {
  const data::Dataset train = images(90, 1), test = images(20, 2);
  // Reference: three epochs of 9 steps without stopping.
  TrainingRun reference(train, test, 0);
  for (int64_t e = 1; e <= 3; ++e) reference.trainer->run_epoch(e, 3);

  // Saved every 4 steps; the process "dies" after the save at step 16 (epoch 2, batch 7).
  const Stream s = cpu_context().compute_stream();
  testing::TempDir dir;
  {
    bool stop = false;
    TrainingRun first(train, test, 4, [&](TrainingRun& r) {
      save_checkpoint(dir.path(), s, *r.model.net, "tiny", r.state(), 2);
      if (r.trainer->steps_done() == 16) stop = true;
    });
    for (int64_t e = 1; e <= 3 && !stop; ++e) first.trainer->run_epoch(e, 3);
    ASSERT_TRUE(stop);
  }
  std::vector<std::string> files;
  for (const auto& f : std::filesystem::directory_iterator(dir.path())) files.push_back(f.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"latest.safetensors", "step-00000012.safetensors",
                                             "step-00000012.state.safetensors", "step-00000016.safetensors",
                                             "step-00000016.state.safetensors"}))
      << "keep = 2 prunes the older saves";

  // A new process state, from the files alone.
  const LoadedCheckpoint c = load_checkpoint(dir.path());
  EXPECT_EQ(c.step, 16);
  EXPECT_EQ(c.run.trainer.epoch, 2);
  EXPECT_EQ(c.run.trainer.batch, 7);
  EXPECT_EQ(c.run.command, (std::vector<std::string>{"train", "--test"}));
  TrainingRun resumed(train, test, 0);
  load_model_state(s, *resumed.model.net, c.weights, true);
  EXPECT_EQ(resumed.adam
                ->load_state(s, optim::parameter_paths(*resumed.model.net), tensors_with_prefix(c.state, "optimizer."))
                .size(),
            12u);
  resumed.adam->restore_progress(c.run.optimizer);
  resumed.trainer->restore(c.run.trainer, tensors_with_prefix(c.state, "lookahead."));
  const EpochStats partial = resumed.trainer->run_epoch(2, 3);
  EXPECT_EQ(partial.train_samples, 90) << "the resumed epoch counts the samples before the save";
  resumed.trainer->run_epoch(3, 3);
  EXPECT_EQ(resumed.trainer->steps_done(), 27);
  expect_same(final_state(reference), final_state(resumed));
}

TEST(Checkpoint, BrokenDirectoriesAreClearErrors) {
  testing::TempDir dir;
  EXPECT_THROW(load_checkpoint(dir.path() / "nope"), IoError);
  try {
    load_checkpoint(dir.path());
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("latest.safetensors is missing"), std::string::npos) << e.what();
  }
  // Weights without their training state.
  const Stream s = cpu_context().compute_stream();
  const data::Dataset train = images(20, 1), test = images(10, 2);
  TrainingRun r(train, test, 0);
  save_weights(dir.path() / "latest.safetensors", s, *r.model.net, "tiny", 3, {{"state", "step-3.state.safetensors"}});
  EXPECT_THROW(load_checkpoint(dir.path()), IoError);
  save_weights(dir.path() / "latest.safetensors", s, *r.model.net, "tiny", 3, {{"state", "../escape"}});
  EXPECT_THROW(load_checkpoint(dir.path()), FormatError);
  // A stray temporary from a save killed halfway does not disturb the previous save.
  save_checkpoint(dir.path(), s, *r.model.net, "tiny", r.state(), 3);
  std::ofstream(dir.path() / ".latest.safetensors.tmp-1-0") << "half a file";
  EXPECT_EQ(load_checkpoint(dir.path()).step, 0);
}

}  // namespace
}  // namespace sprint::train
