// loss_parity_test.cpp: log-softmax, NLL, cross-entropy (label smoothing) and count_correct on every backend.
#include <gtest/gtest.h>

#include "sprint/ops/elementwise.h"
#include "sprint/ops/loss.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

constexpr int64_t kN = 37, kK = 10;

std::vector<Tensor> logits_and_targets(Generator& rng) {
  return {testing::random_tensor({kN, kK}, DType::kF64, rng, -5.0, 5.0), testing::random_labels(kN, kK, rng),
          testing::random_tensor({kN, kK}, DType::kF64, rng)};
}

TEST(LossParity, LogSoftmaxNll) {
  testing::run_parity(ParityCase{
      .name = "log_softmax+nll",
      .make_inputs = logits_and_targets,
      .run = [](const Stream& s, const std::vector<Tensor>& v) {
        auto& a = s.context().allocator();
        Tensor y = Tensor::empty({kN, kK}, v[0].dtype(), a), dx = Tensor::empty({kN, kK}, v[0].dtype(), a);
        Tensor loss = Tensor::empty({}, DType::kF32, a), dlogp = Tensor::empty({kN, kK}, v[0].dtype(), a);
        ops::log_softmax_forward(s, {.x = v[0], .y = y});
        ops::log_softmax_backward(s, {.dy = v[2], .y = y, .dx = dx});
        ops::nll_loss_forward(s, {.logp = y, .target = v[1], .loss = loss});
        ops::nll_loss_backward(s, {.target = v[1], .dlogp = dlogp, .scale = 2.0});
        return std::vector<Tensor>{y, dx, loss, dlogp};
      }});
}

TEST(LossParity, CrossEntropyWithLabelSmoothing) {
  for (Reduction r : {Reduction::kMean, Reduction::kSum}) {
    testing::run_parity(ParityCase{
        .name = r == Reduction::kMean ? "cross_entropy/mean" : "cross_entropy/sum",
        .make_inputs = logits_and_targets,
        .run = [r](const Stream& s, const std::vector<Tensor>& v) {
          auto& a = s.context().allocator();
          Tensor probs = Tensor::empty({kN, kK}, v[0].dtype(), a), d = Tensor::empty({kN, kK}, v[0].dtype(), a);
          Tensor loss = Tensor::empty({}, DType::kF32, a);
          Tensor correct = ops::zeros(s, {}, DType::kI64);
          ops::cross_entropy_forward(s, {.logits = v[0], .target = v[1], .probs = probs, .loss = loss,
                                         .label_smoothing = 0.2, .reduction = r});
          ops::cross_entropy_backward(s, {.probs = probs, .target = v[1], .dlogits = d, .label_smoothing = 0.2,
                                          .reduction = r, .scale = 0.5});
          ops::count_correct(s, {.scores = v[0], .target = v[1], .correct = correct});
          return std::vector<Tensor>{probs, loss, d, correct};
        },
        .tolerance = {{DType::kBF16, {5e-2, 2e-2}}}});
  }
}

TEST(LossParity, OutOfRangeTargetIsAnError) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  Tensor logits = Tensor::from_values(std::vector<float>(6, 0.0f), {2, 3});
  Tensor target = Tensor::from_values(std::vector<int32_t>{0, 3}, {2});
  Tensor probs = Tensor::empty({2, 3}, DType::kF32), loss = Tensor::empty({}, DType::kF32);
  EXPECT_THROW(ops::cross_entropy_forward(s, {.logits = logits, .target = target, .probs = probs, .loss = loss}),
               InvalidArgument);
}

}  // namespace
}  // namespace sprint
