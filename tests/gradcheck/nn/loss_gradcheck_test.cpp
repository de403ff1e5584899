// loss_gradcheck_test.cpp: float64 finite differences for NLL and cross-entropy (label smoothing, reductions).
#include <gtest/gtest.h>

#include "sprint/nn/loss.h"
#include "support/gradcheck.h"

namespace sprint::nn {
namespace {

TEST(LossGradcheck, Nll) {
  NllLoss mean(Reduction::kMean), sum(Reduction::kSum);
  testing::expect_loss_gradients(mean, 6, 4);
  testing::expect_loss_gradients(sum, 6, 4);
}

TEST(LossGradcheck, CrossEntropy) {
  CrossEntropyLoss plain;
  testing::expect_loss_gradients(plain, 7, 5);
}

TEST(LossGradcheck, CrossEntropyLabelSmoothingSum) {
  CrossEntropyLoss smooth(0.2, Reduction::kSum);
  testing::GradcheckOptions o;
  o.input_low = -4.0;
  o.input_high = 4.0;
  testing::expect_loss_gradients(smooth, 9, 10, o);
}

}  // namespace
}  // namespace sprint::nn
