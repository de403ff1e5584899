// pipeline_devices_test.cpp: a pipeline whose stages live on devices of their own, on the logical host devices
// cpu:1 .. cpu:3 (core/device.h): every parameter, buffer and optimizer state of stage k lives on stage k's
// device, activations, gradients, labels and the loss cross devices through copies, evaluation runs the stages
// in turn, and the training is bit for bit the same pipeline on one device, for every weight policy, on the
// tiny CNN with BatchNorm and dropout; a checkpoint's optimizer state and SpecTrain gradients load onto the
// stages' devices.
#include <gtest/gtest.h>

#include "sprint/core/error.h"
#include "sprint/data/dataset.h"
#include "sprint/ops/elementwise.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/device_registry.h"
#include "sprint/train/pipeline_stages.h"
#include "sprint/train/trainer.h"
#include "pipeline_test_setup.h"
#include "train_test_data.h"

namespace sprint::train {
namespace {

using pipeline_setup::make_sgd;

struct DevicesRun {
  std::vector<double> losses;  // per epoch: training loss, test loss, test accuracy
  std::vector<std::vector<float>> params;
  std::vector<Device> param_devices;
  std::vector<Device> buffer_devices;
};

const Device kCpu1{DeviceType::kCPU, 1}, kCpu2{DeviceType::kCPU, 2}, kCpu3{DeviceType::kCPU, 3};

// The tiny CNN's six layers in three stages [conv, bn] [relu, flatten] [dropout, linear], 192 images in
// batches of 16, two epochs (the second resumed from the first's state when `resume`).
DevicesRun train(WeightPolicy policy, std::vector<Device> devices, bool resume = false) {
  const data::Dataset train_set = test_data::random_images(192, 6, 6, 3), test_set = test_data::random_images(64, 6, 6, 4);
  nn::Model model = test_data::tiny_conv_model(0.2);
  auto sgd = make_sgd(*model.net);
  TrainerOptions o = pipeline_setup::trainer_options(16, 64, 11);
  PipelineOptions& p = o.pipeline.emplace();
  p.stages = 3;
  p.policy = policy;
  p.micro_batches = policy == WeightPolicy::kSync ? 2 : 1;
  p.boundaries = {0, 2, 4};
  p.make_optimizer = make_sgd;
  p.devices = devices;
  DevicesRun r;
  auto record = [&](const EpochStats& e) {
    r.losses.insert(r.losses.end(), {e.train_loss, e.test.loss, e.test.accuracy});
  };
  const Stream host = cpu_context().compute_stream();
  auto trainer = std::make_unique<Trainer>(model, *sgd, train_set, test_set, o);
  record(trainer->run_epoch(1, 2));
  if (resume) {
    // What a checkpoint holds, on the host, loaded into a fresh trainer (and its fresh stages) over the same model.
    const TrainerState state = trainer->state();
    std::vector<std::pair<std::string, Tensor>> optimizer_state;
    const optim::ParameterPaths paths = optim::parameter_paths(*model.net);
    for (optim::Optimizer* opt : trainer->checkpointed_optimizers())
      for (nn::NamedBuffer& b : opt->named_state(paths)) optimizer_state.emplace_back(b.name, ops::to_host(host, b.value));
    std::vector<std::pair<std::string, Tensor>> gradients;
    for (const nn::NamedBuffer& g : state.gradients) gradients.emplace_back(g.name, ops::to_host(host, g.value));
    trainer = std::make_unique<Trainer>(model, *sgd, train_set, test_set, o);
    auto find_in = [](const std::vector<std::pair<std::string, Tensor>>& list) {
      return [&list](const std::string& name) {
        for (const auto& [n, t] : list)
          if (n == name) return t;
        return Tensor();
      };
    };
    trainer->restore(state, nullptr, find_in(gradients));
    size_t loaded = 0;
    for (optim::Optimizer* opt : trainer->checkpointed_optimizers())
      loaded += opt->load_state(host, paths, find_in(optimizer_state)).size();
    EXPECT_EQ(loaded, 6u);  // the momentum of every parameter (stage 1 has none)
  }
  record(trainer->run_epoch(2, 2));
  for (const nn::ParameterPtr& param : model.net->parameters()) {
    r.params.push_back(ops::to_host(host, param->master_value()).to_vector<float>());
    r.param_devices.push_back(param->value().device());
  }
  for (const nn::NamedBuffer& b : model.net->named_buffers()) r.buffer_devices.push_back(b.value.device());
  return r;
}

TEST(PipelineDevices, StagesOnDevicesOfTheirOwnTrainBitForBitAsOnOne) {
  for (const WeightPolicy policy :
       {WeightPolicy::kNone, WeightPolicy::kStash, WeightPolicy::kSpecTrain, WeightPolicy::kSync}) {
    SCOPED_TRACE(weight_policy_name(policy));
    const DevicesRun one = train(policy, {});
    const DevicesRun three = train(policy, {kCpu1, kCpu2, kCpu3});
    EXPECT_EQ(three.losses, one.losses);
    EXPECT_EQ(three.params, one.params);
    // conv (weight, bias) and bn (weight, bias) on stage 0; the classifier's on stage 2; bn's statistics too.
    ASSERT_EQ(three.param_devices.size(), 6u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(three.param_devices[i], kCpu1) << i;
    for (size_t i = 4; i < 6; ++i) EXPECT_EQ(three.param_devices[i], kCpu3) << i;
    for (const Device& d : three.buffer_devices) EXPECT_EQ(d, kCpu1);
    for (const Device& d : one.param_devices) EXPECT_EQ(d, kCPU);
  }
}

TEST(PipelineDevices, ResumedStagesLoadTheirStateOntoTheirDevices) {
  for (const WeightPolicy policy : {WeightPolicy::kSpecTrain, WeightPolicy::kSync}) {
    SCOPED_TRACE(weight_policy_name(policy));
    const DevicesRun straight = train(policy, {kCpu1, kCPU, kCpu2});
    const DevicesRun resumed = train(policy, {kCpu1, kCPU, kCpu2}, true);
    EXPECT_EQ(resumed.losses, straight.losses);
    EXPECT_EQ(resumed.params, straight.params);
  }
}

TEST(PipelineDevices, RefusesAWrongNumberOfDevices) {
  EXPECT_THROW(train(WeightPolicy::kNone, {kCpu1, kCpu2}), InvalidArgument);
}

}  // namespace
}  // namespace sprint::train
