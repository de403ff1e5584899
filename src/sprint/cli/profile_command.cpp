// profile_command.cpp: `sprint profile`: builds a model as `sprint train` does, runs W warm-up and N profiled
// training steps (full batches, no evaluation) and prints the profile table; optionally a Chrome trace and a
// report. The run goes through run_train with the profile settings, so models, data sets, devices and threads
// are resolved, checked and reported exactly as for `sprint train --profile`; with --pipeline K, one table per
// stage (each stage profiles its own steps).
#include <algorithm>

#include "sprint/cli/commands.h"
#include "sprint/core/error.h"

namespace sprint::cli {

int run_profile(const ProfileArgs& p) {
  SPRINT_CHECK(!p.model.empty(), "--model is required");
  SPRINT_CHECK(p.batch_size >= 1, "--batch-size {}: expected a whole number >= 1", p.batch_size);
  SPRINT_CHECK(p.steps >= 1, "--steps {}: expected a whole number >= 1", p.steps);
  SPRINT_CHECK(p.warmup >= 0, "--warmup {}: expected a whole number >= 0", p.warmup);
  SPRINT_CHECK(p.rows >= 1, "--rows {}: expected a whole number >= 1", p.rows);
  TrainArgs t;
  t.model = p.model;
  t.dataset = p.dataset;
  t.data_dir = p.data_dir;
  t.batch_size = p.batch_size;
  t.threads = p.threads;
  t.device = p.device;
  t.memory_format = p.memory_format;
  t.hidden = p.hidden;
  t.seed = p.seed;
  t.report = p.report;
  t.trace = p.trace;
  t.progress = "off";
  t.profile = true;
  t.profile_only = true;
  t.profile_steps = p.steps;
  t.profile_warmup = p.warmup;
  t.profile_rows = p.rows;
  // Every step a full batch: the short last batch of an epoch would be a step of another size.
  t.drop_last = true;
  t.max_steps = p.warmup + p.steps;
  if (p.pipeline > 0) {
    t.pipeline = p.pipeline;
    t.weight_policy = p.weight_policy;
    t.micro_batches = p.micro_batches;
    // Stage k's last K - k - 1 turns drain the pipeline (a backward without a forward): K - 1 more mini-batches
    // keep every stage's profiled steps whole turns.
    t.max_steps += p.pipeline - 1;
  }
  t.epochs = static_cast<double>(t.max_steps);  // enough epochs: max_steps ends the run
  if (p.dataset == "random") {
    // Room for two full training batches in the random set's 80% training split.
    t.random_samples = std::max<int64_t>(100, 3 * p.batch_size);
    // A pipeline drains at each epoch's end: its profiled steps all lie in the first epoch.
    if (p.pipeline > 0) t.random_samples = std::max(t.random_samples, (t.max_steps + 1) * p.batch_size * 5 / 4 + 5);
    t.random_features = p.random_features;
    t.random_classes = p.random_classes;
  }
  t.resolved = {{"command", "profile"},
                {"model", p.model},
                {"dataset", p.dataset},
                {"batch-size", std::to_string(p.batch_size)},
                {"steps", std::to_string(p.steps)},
                {"warmup", std::to_string(p.warmup)},
                {"threads", p.threads},
                {"device", p.device}};
  if (p.pipeline > 0) {
    t.resolved.emplace_back("pipeline", std::to_string(p.pipeline));
    t.resolved.emplace_back("weight-policy", p.weight_policy);
    t.resolved.emplace_back("micro-batches", std::to_string(p.micro_batches));
  }
  return run_train(t);
}

}  // namespace sprint::cli
