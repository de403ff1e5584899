// trainer_test.cpp: the Trainer for a few epochs of a few steps on CUDA. With cuda_graph the step is captured once
// and replayed: losses and final parameters must equal the eager run's (dropout included: the graph draws each
// step's masks on the device). The eager CUDA run (resident or host-loader batches) must match the CPU run within
// float reordering. Models: an MLP with two dropout layers on feature data and a small CNN (conv, batch norm,
// pooling, dropout) on u8 images; 264 training samples in batches of 32 (eight full batches, then a short one that
// runs eagerly even with a graph). Also the CNN with training augmentation and test-time augmentation.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "gpu/gpu_test_util.h"
#include "gpu/small_cnn.h"
#include "sprint/data/dataset.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/batch_norm.h"
#include "sprint/nn/conv.h"
#include "sprint/nn/dropout.h"
#include "sprint/nn/flatten.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/mixed_precision.h"
#include "sprint/nn/pool.h"
#include "sprint/optim/adam.h"
#include "sprint/optim/sgd.h"
#include "sprint/train/trainer.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

constexpr int64_t kTrain = 264, kTest = 128, kEpochs = 3;

using ModelFactory = std::function<nn::Model(Generator&)>;

nn::Model mlp_with_dropout(Generator& rng) {
  nn::Model m;
  m.name = "mlp-dropout";
  m.net = std::make_shared<nn::Sequential>();
  m.net->emplace<nn::Flatten>();
  m.net->emplace<nn::Linear>(nn::LinearOptions(20, 32).with_activation(Activation::kReLU), rng);
  m.net->emplace<nn::Dropout>(0.3);
  m.net->emplace<nn::Linear>(nn::LinearOptions(32, 16).with_activation(Activation::kReLU), rng);
  m.net->emplace<nn::Dropout>(0.1);
  m.net->emplace<nn::Linear>(nn::LinearOptions(16, 5), rng);
  m.loss = std::make_unique<nn::CrossEntropyLoss>(0.1);
  return m;
}


/// u8 images (n, 1, 8, 8) whose label depends on the brighter half, with FashionMNIST's statistics.
data::Dataset images(int64_t n) {
  Generator rng(21);
  data::Dataset d;
  d.name = "images";
  d.num_classes = 5;
  d.inputs = Tensor::empty({n, 1, 8, 8}, DType::kU8);
  d.labels = Tensor::empty({n}, DType::kI32);
  uint8_t* p = d.inputs.data_as<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t left = 0;
    for (int64_t j = 0; j < 64; ++j) {
      p[i * 64 + j] = static_cast<uint8_t>(rng.below(256));
      if (j % 8 < 4) left += p[i * 64 + j];
    }
    d.labels.data_as<int32_t>()[i] = static_cast<int32_t>((left / 64) % 5);
  }
  d.mean = {0.2860f};
  d.std = {0.3530f};
  return d;
}

struct RunResult {
  std::vector<train::EpochStats> epochs;
  std::vector<Tensor> params;  // host copies, in named_parameters() order
  std::vector<int64_t> counters;  // BatchNorm's num_batches_tracked (a CUDA graph's replays advance them too)
};

RunResult run(const ModelFactory& make, const data::Dataset& train_set, const data::Dataset& test_set, Device device,
              bool resident, bool graph, const data::AugmentOptions& augment = {}, int tta = 0,
              bool adam_one_cycle = false, DType amp = DType::kF32) {
  Generator init(7);  // the same initial parameters in every run
  nn::Model model = make(init);
  const Stream s = device_context(device).compute_stream();
  model.net->to_device(s);
  if (amp != DType::kF32) nn::use_mixed_precision(model, amp, s);
  std::unique_ptr<optim::Optimizer> optimizer;
  if (adam_one_cycle)
    optimizer = std::make_unique<optim::Adam>(optim::single_group(*model.net),
                                              optim::AdamOptions(1e-3).decoupled().with_weight_decay(5e-4));
  else
    optimizer = std::make_unique<optim::SGD>(optim::single_group(*model.net), optim::SGDOptions(0.05).with_momentum(0.9));
  train::TrainerOptions o;
  if (amp == DType::kF16) o.loss_scaling = optim::LossScalerOptions{};
  if (adam_one_cycle)  // 9 steps per epoch: lr, beta1 and Adam's step count change on every replay
    o.schedule = optim::one_cycle_schedule({.max_lr = 3e-3, .total_steps = 9 * kEpochs, .pct_start = 0.25});
  o.batch_size = 32;
  o.eval_batch_size = 64;
  o.seed = 11;
  o.num_workers = 0;
  o.device = device;
  o.resident_data = resident;
  o.cuda_graph = graph;
  o.augment = augment;
  o.tta = tta;
  o.tta_every_epoch = tta > 0;  // compare the augmented evaluation epoch by epoch
  train::Trainer trainer(model, *optimizer, train_set, test_set, o);
  RunResult r;
  for (int64_t e = 1; e <= kEpochs; ++e) r.epochs.push_back(trainer.run_epoch(e, kEpochs));
  for (const nn::ParameterPtr& p : model.net->parameters()) r.params.push_back(ops::to_host(s, p->master_value()));
  for (const nn::NamedCounter& c : model.net->named_counters()) r.counters.push_back(*c.value);
  return r;
}

void expect_same_run(const RunResult& got, const RunResult& want, double rtol, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.epochs.size(), want.epochs.size());
  for (size_t e = 0; e < want.epochs.size(); ++e) {
    const train::EpochStats &g = got.epochs[e], &w = want.epochs[e];
    EXPECT_EQ(g.train_samples, w.train_samples);
    EXPECT_NEAR(g.train_loss, w.train_loss, rtol * std::abs(w.train_loss)) << "epoch " << e + 1;
    EXPECT_NEAR(g.test.loss, w.test.loss, rtol * std::abs(w.test.loss)) << "epoch " << e + 1;
    EXPECT_EQ(g.test.samples, w.test.samples);
  }
  EXPECT_EQ(got.counters, want.counters);
  ASSERT_EQ(got.params.size(), want.params.size());
  for (size_t i = 0; i < want.params.size(); ++i)
    EXPECT_TRUE(all_close(got.params[i], want.params[i], rtol, rtol * 0.1)) << "parameter " << i;
}

class TrainerTest : public CudaTest {
 protected:
  void check_model(const ModelFactory& make, const data::Dataset& all) {
    const data::Dataset train_set = data::subset(all, 0, kTrain), test_set = data::subset(all, kTrain, kTest);
    const Device gpu = cuda_device(0);
    const RunResult cpu = run(make, train_set, test_set, kCPU, false, false);
    const RunResult eager = run(make, train_set, test_set, gpu, true, false);
    const RunResult loader = run(make, train_set, test_set, gpu, false, false);
    const RunResult graph = run(make, train_set, test_set, gpu, true, true);
    // Same kernels on the same batches: equal up to run-to-run differences of the vendor libraries.
    expect_same_run(graph, eager, 1e-5, "CUDA graph vs eager CUDA");
    expect_same_run(loader, eager, 1e-5, "host DataLoader vs resident data, eager CUDA");
    // Different summation orders, compounded over 27 steps.
    expect_same_run(eager, cpu, 1e-3, "eager CUDA vs CPU");
    for (const train::EpochStats& e : eager.epochs) EXPECT_TRUE(std::isfinite(e.train_loss)) << e.epoch;
  }
};

TEST_F(TrainerTest, MlpWithDropoutGraphEqualsEagerAndCpu) {
  check_model(mlp_with_dropout, data::make_random_dataset(kTrain + kTest, 20, 5, 3));
}

TEST_F(TrainerTest, CnnGraphEqualsEagerAndCpu) { check_model(small_cnn, images(kTrain + kTest)); }

// Training augmentation (in the resident gather kernel / the host loader) and 6-view TTA (translate_flip on the
// device): the same batches and views as on the CPU, so the runs agree as the plain ones do.
TEST_F(TrainerTest, CnnWithAugmentationAndTtaEqualsTheCpu) {
  const data::Dataset all = images(kTrain + kTest);
  const data::Dataset train_set = data::subset(all, 0, kTrain), test_set = data::subset(all, kTrain, kTest);
  const data::AugmentOptions aug{.crop_padding = 2, .flip = data::FlipMode::kAlternating, .cutout = 3};
  const Device gpu = cuda_device(0);
  const RunResult cpu = run(small_cnn, train_set, test_set, kCPU, false, false, aug, 2);
  const RunResult eager = run(small_cnn, train_set, test_set, gpu, true, false, aug, 2);
  const RunResult loader = run(small_cnn, train_set, test_set, gpu, false, false, aug, 2);
  const RunResult graph = run(small_cnn, train_set, test_set, gpu, true, true, aug, 2);
  expect_same_run(graph, eager, 1e-5, "CUDA graph vs eager CUDA, augmented");
  expect_same_run(loader, eager, 1e-5, "host DataLoader vs resident data, augmented");
  expect_same_run(eager, cpu, 1e-3, "eager CUDA vs CPU, augmented");
}

// A schedule under a CUDA graph: AdamW with OneCycle (lr and beta1 change every step, and Adam's bias correction
// with the step count) replayed from one captured step equals the eager run, which equals the CPU's.
TEST_F(TrainerTest, OneCycleAdamGraphEqualsEagerAndCpu) {
  const data::Dataset all = images(kTrain + kTest);
  const data::Dataset train_set = data::subset(all, 0, kTrain), test_set = data::subset(all, kTrain, kTest);
  const Device gpu = cuda_device(0);
  const RunResult cpu = run(small_cnn, train_set, test_set, kCPU, false, false, {}, 0, true);
  const RunResult eager = run(small_cnn, train_set, test_set, gpu, true, false, {}, 0, true);
  const RunResult graph = run(small_cnn, train_set, test_set, gpu, true, true, {}, 0, true);
  expect_same_run(graph, eager, 1e-5, "CUDA graph vs eager CUDA, AdamW + OneCycle");
  expect_same_run(eager, cpu, 1e-3, "eager CUDA vs CPU, AdamW + OneCycle");
}

// Mixed precision: bf16, and f16 with dynamic loss scaling (65536 at first: no step of this small CNN overflows),
// from f32 masters; each run close to the f32 one (half-precision rounding over 27 steps), graph or not for bf16.
TEST_F(TrainerTest, MixedPrecisionTrainsCloseToF32) {
  const data::Dataset all = images(kTrain + kTest);
  const data::Dataset train_set = data::subset(all, 0, kTrain), test_set = data::subset(all, kTrain, kTest);
  const Device gpu = cuda_device(0);
  const RunResult f32 = run(small_cnn, train_set, test_set, gpu, true, false);
  for (DType amp : {DType::kBF16, DType::kF16}) {
    const RunResult mixed = run(small_cnn, train_set, test_set, gpu, true, false, {}, 0, false, amp);
    for (const train::EpochStats& e : mixed.epochs) {
      EXPECT_TRUE(std::isfinite(e.train_loss)) << dtype_name(amp) << " epoch " << e.epoch;
      if (amp == DType::kF16) {
        EXPECT_EQ(e.skipped_steps, 0) << "epoch " << e.epoch;
      }
    }
    for (const Tensor& p : mixed.params) EXPECT_EQ(p.dtype(), DType::kF32);
    expect_same_run(mixed, f32, amp == DType::kBF16 ? 5e-2 : 1e-2, std::string(dtype_name(amp)) + " vs f32");
  }
  const RunResult bf16_graph = run(small_cnn, train_set, test_set, gpu, true, true, {}, 0, false, DType::kBF16);
  const RunResult bf16_eager = run(small_cnn, train_set, test_set, gpu, true, false, {}, 0, false, DType::kBF16);
  expect_same_run(bf16_graph, bf16_eager, 1e-5, "bf16: CUDA graph vs eager");
}

}  // namespace
}  // namespace sprint::testing
