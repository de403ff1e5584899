// pipeline_test.cpp: pipelined training on one GPU, each stage on a stream of its own (hand-offs ordered by
// events, tensors marked with record_stream). Every policy's run on CUDA must match the same pipelined run on
// the CPU within float reordering (the 1F1B order fixes the results, whatever the streams' timing), and GPipe's
// sync must match plain CUDA training; profiling the stages (events on each stage's stream) changes no result;
// stages on the host and on a second GPU (PipelineOptions::devices) train the same.
// The small CNN (BatchNorm, dropout) in three stages.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "gpu/gpu_test_util.h"
#include "gpu/small_cnn.h"
#include "sprint/data/dataset.h"
#include "sprint/optim/sgd.h"
#include "sprint/runtime/cuda/caching_allocator.h"
#include "sprint/train/pipeline_stages.h"
#include "sprint/train/trainer.h"

namespace sprint::testing {
namespace {

data::Dataset features(int64_t n, uint64_t seed) {
  data::Dataset d = data::make_random_dataset(n, 64, 5, seed);
  d.inputs = d.inputs.reshape({n, 1, 8, 8});
  return d;
}

std::unique_ptr<optim::Optimizer> make_sgd(nn::Module& m) {
  return std::make_unique<optim::SGD>(optim::single_group(m), optim::SGDOptions(0.05).with_momentum(0.9));
}

struct PipelineRun {
  std::vector<double> losses;
  std::vector<std::vector<float>> params;
  std::vector<train::StageReport> stages;
  std::vector<profile::ProfileData> profiles;
};

PipelineRun train_on(Device device, std::optional<train::WeightPolicy> policy, int stages = 3,
                     std::optional<profile::ProfilerOptions> profile = std::nullopt,
                     std::vector<Device> stage_devices = {}) {
  const data::Dataset train_set = features(192, 3), test_set = features(64, 4);
  Generator init(7);
  nn::Model model = small_cnn(init);
  const Stream s = device_context(device).compute_stream();
  model.net->to_device(s);
  auto sgd = make_sgd(*model.net);
  train::TrainerOptions o;
  o.batch_size = 16;
  o.eval_batch_size = 64;
  o.seed = 11;
  o.num_workers = 0;
  o.device = device;
  if (policy) {
    train::PipelineOptions& p = o.pipeline.emplace();
    p.stages = stages;
    p.policy = *policy;
    p.micro_batches = *policy == train::WeightPolicy::kSync ? 2 : 1;
    p.boundaries = train::boundaries_by_index(train::pipeline_layers(*model.net).size(), stages);
    p.make_optimizer = make_sgd;
    p.profile = profile;
    p.devices = stage_devices;
  }
  train::Trainer trainer(model, *sgd, train_set, test_set, o);
  PipelineRun r;
  for (int e = 1; e <= 2; ++e) {
    const train::EpochStats stats = trainer.run_epoch(e, 2);
    r.losses.push_back(stats.train_loss);
    r.losses.push_back(stats.test.loss);
  }
  for (const nn::ParameterPtr& p : model.net->parameters())
    r.params.push_back(ops::to_host(s, p->master_value()).to_vector<float>());
  r.stages = trainer.pipeline_stages();
  for (const profile::ProfileData* d : trainer.pipeline_profiles()) r.profiles.push_back(*d);
  return r;
}

void expect_close(const PipelineRun& got, const PipelineRun& want, double tol, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.losses.size(), want.losses.size());
  for (size_t i = 0; i < want.losses.size(); ++i) EXPECT_NEAR(got.losses[i], want.losses[i], tol) << i;
  ASSERT_EQ(got.params.size(), want.params.size());
  for (size_t i = 0; i < want.params.size(); ++i)
    for (size_t j = 0; j < want.params[i].size(); ++j)
      ASSERT_NEAR(got.params[i][j], want.params[i][j], tol) << "parameter " << i << " entry " << j;
}

class PipelineOnCuda : public CudaTest {};

TEST_F(PipelineOnCuda, EveryPolicyMatchesTheSamePipelineOnTheCpu) {
  for (train::WeightPolicy policy : {train::WeightPolicy::kNone, train::WeightPolicy::kStash,
                                     train::WeightPolicy::kSpecTrain, train::WeightPolicy::kSync}) {
    const PipelineRun gpu = train_on(cuda_device(0), policy), cpu = train_on(kCPU, policy);
    expect_close(gpu, cpu, 2e-4, train::weight_policy_name(policy));
    ASSERT_EQ(gpu.stages.size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(gpu.stages[k].updates, cpu.stages[k].updates);
      EXPECT_EQ(gpu.stages[k].max_staleness, cpu.stages[k].max_staleness);
    }
  }
}

TEST_F(PipelineOnCuda, SyncMatchesPlainTrainingOnTheGpu) {
  expect_close(train_on(cuda_device(0), train::WeightPolicy::kSync), train_on(cuda_device(0), std::nullopt), 2e-4,
               "sync vs plain");
}

TEST_F(PipelineOnCuda, StagesRunOnStreamsOfTheirOwnAndLeaveNoBlockWaiting) {
  const PipelineRun run = train_on(cuda_device(0), train::WeightPolicy::kNone);
  EXPECT_EQ(run.stages.size(), 3u);
  context().synchronize_all();
  (void)Tensor::empty({16}, DType::kF32, context().allocator());  // polls the blocks that waited for events
  EXPECT_EQ(context().caching_allocator().n_waiting_blocks(), 0);
}

// A stage on the host between two on the GPU: activations and gradients cross GPU -> host -> GPU each way.
TEST_F(PipelineOnCuda, AStageOnTheHostBetweenGpuStagesMatchesTheCpuPipeline) {
  for (train::WeightPolicy policy : {train::WeightPolicy::kSpecTrain, train::WeightPolicy::kSync}) {
    const PipelineRun mixed = train_on(cuda_device(0), policy, 3, std::nullopt, {cuda_device(0), kCPU, cuda_device(0)});
    expect_close(mixed, train_on(kCPU, policy), 2e-4, train::weight_policy_name(policy));
  }
}

// Stage k on GPU k (two GPUs: cuda:0, cuda:1, cuda:0, so that hand-offs cross between the GPUs both ways).
TEST_F(PipelineOnCuda, StagesOnTwoGpusMatchTheCpuPipeline) {
  if (cuda_device_count() < 2) GTEST_SKIP() << "needs two GPUs, this machine has " << cuda_device_count();
  for (train::WeightPolicy policy : {train::WeightPolicy::kNone, train::WeightPolicy::kSpecTrain,
                                     train::WeightPolicy::kSync}) {
    const PipelineRun two =
        train_on(cuda_device(0), policy, 3, std::nullopt, {cuda_device(0), cuda_device(1), cuda_device(0)});
    expect_close(two, train_on(kCPU, policy), 2e-4, train::weight_policy_name(policy));
  }
}

TEST_F(PipelineOnCuda, ProfiledStagesTimeTheirLayersWithEventsOnTheirStreams) {
  const PipelineRun plain = train_on(cuda_device(0), train::WeightPolicy::kSpecTrain);
  const PipelineRun profiled =
      train_on(cuda_device(0), train::WeightPolicy::kSpecTrain, 3, profile::ProfilerOptions{.warmup_steps = 1, .steps = 3});
  expect_close(profiled, plain, 2e-4, "profiling changes no result");
  ASSERT_EQ(profiled.profiles.size(), 3u);
  for (const profile::ProfileData& d : profiled.profiles) {
    EXPECT_TRUE(d.device_timing);
    EXPECT_EQ(d.n_steps(), 3);
    int64_t device_layer_spans = 0;
    for (const profile::Span& s : d.spans) {
      EXPECT_LE(s.start_ns, s.end_ns) << d.names[static_cast<size_t>(s.name)];
      if (s.track == profile::Track::kDevice && s.category == profile::Category::kForward) ++device_layer_spans;
    }
    EXPECT_GT(device_layer_spans, 3) << "the model region and its layers, timed with events, every step";
  }
}

}  // namespace
}  // namespace sprint::testing
