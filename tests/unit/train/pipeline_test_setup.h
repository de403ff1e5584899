// pipeline_test_setup.h: what the pipeline tests train: mlp2 on random features, SGD with momentum as every
// stage's optimizer, and the trainer's settings they share.
#pragma once

#include <memory>

#include "sprint/data/dataset.h"
#include "sprint/nn/models.h"
#include "sprint/optim/sgd.h"
#include "sprint/train/trainer.h"

namespace sprint::train::pipeline_setup {

inline constexpr double kLr = 0.05, kMomentum = 0.9;

/// SGD with lr kLr and momentum kMomentum over `m`'s parameters (a PipelineOptions::make_optimizer).
inline std::unique_ptr<optim::Optimizer> make_sgd(nn::Module& m) {
  return std::make_unique<optim::SGD>(optim::single_group(m), optim::SGDOptions(kLr).with_momentum(kMomentum));
}

/// mlp2 (Flatten, fc1 + ReLU, fc2 + ReLU, fc3: 4 layers, hidden 12 and 8, weights from seed 5) and 200 random
/// samples of 6 features and 3 classes: the first 160 to train on, the last 40 to test.
struct Mlp2 {
  data::Dataset train, test;
  nn::Model model;
};
inline Mlp2 mlp2() {
  const data::Dataset all = data::make_random_dataset(200, 6, 3, 11);
  Generator rng(5);
  nn::ModelOptions mo;
  mo.hidden = {12, 8};
  return {data::subset(all, 0, 160), data::subset(all, 160, 40), nn::build_model("mlp2", {6}, 3, rng, mo)};
}

/// Batches of `batch` (eval: `eval_batch`), no loader workers, seed `seed`.
inline TrainerOptions trainer_options(int64_t batch, int64_t eval_batch, uint64_t seed) {
  TrainerOptions o;
  o.batch_size = batch;
  o.eval_batch_size = eval_batch;
  o.num_workers = 0;
  o.seed = seed;
  return o;
}

}  // namespace sprint::train::pipeline_setup
