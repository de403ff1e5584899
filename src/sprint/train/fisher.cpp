// fisher.cpp: the empirical Fisher, one example at a time (fisher.h).
#include "sprint/train/fisher.h"

#include <algorithm>
#include <chrono>

#include "sprint/core/error.h"
#include "sprint/data/loader.h"
#include "sprint/ops/elementwise.h"

namespace sprint::train {

FisherScores empirical_fisher(const Stream& stream, nn::Model& model, const data::Dataset& train_set,
                              const FisherOptions& options) {
  SPRINT_CHECK(options.samples >= 1, "Fisher samples {}: expected a whole number >= 1", options.samples);
  const auto start = std::chrono::steady_clock::now();
  const int64_t n = std::min(options.samples, train_set.size());
  SPRINT_CHECK(n >= 1, "the Fisher information needs training samples; {} has none", train_set.name);
  std::vector<std::pair<std::string, nn::ParameterPtr>> params;
  for (auto& [name, p] : model.net->named_parameters())
    if (p->trainable()) params.emplace_back(name, p);
  std::vector<std::vector<double>> sums;
  for (const auto& [name, p] : params) sums.emplace_back(static_cast<size_t>(p->value().numel()), 0.0);

  data::DataLoaderOptions lo;
  lo.batch_size = 1;
  lo.shuffle = true;
  lo.seed = options.seed;
  lo.num_workers = 1;
  lo.device = options.device;
  lo.format = options.input_format;
  lo.augment = options.augment;
  data::DataLoader loader(train_set, lo);
  loader.start_epoch(1);

  const bool was_training = model.net->training();
  model.net->eval();
  Generator rng(options.seed);
  nn::RunContext ctx{stream, &rng, nn::BufferKey::micro_batch(0), options.activation_format};
  int64_t done = 0;
  try {
    while (done < n) {
      const std::optional<data::Batch> batch = loader.next();
      SPRINT_ASSERT(batch.has_value(), "the loader ended after {} of {} samples", done, n);
      for (auto& [name, p] : params) p->zero_grad();
      const Tensor logits = model.net->forward(ctx, batch->inputs);
      (void)model.loss->forward(ctx, logits, batch->labels);
      model.net->backward(ctx, model.loss->backward(ctx));
      for (size_t i = 0; i < params.size(); ++i) {
        const nn::Parameter& p = *params[i].second;
        std::vector<double>& sum = sums[i];
        if (!p.has_grad()) continue;  // a parameter this example does not reach
        const Tensor g = ops::to_host(stream, ops::cast_to(stream, p.grad(), DType::kF32));
        const float* v = g.data_as<float>();
        for (size_t j = 0; j < sum.size(); ++j) sum[j] += static_cast<double>(v[j]) * static_cast<double>(v[j]);
      }
      ++done;
    }
  } catch (...) {
    for (auto& [name, p] : params) p->zero_grad();
    model.net->train(was_training);
    throw;
  }
  for (auto& [name, p] : params) p->zero_grad();
  model.net->train(was_training);

  FisherScores out;
  out.samples = done;
  for (size_t i = 0; i < params.size(); ++i) {
    const Shape shape = params[i].second->value().shape();
    out.scores.push_back({params[i].first, Tensor::from_values(sums[i], shape)});
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace sprint::train
