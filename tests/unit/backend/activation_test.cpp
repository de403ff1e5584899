// activation_test.cpp: the fused-activation helpers every reference loop uses (backend/api/common.h): values,
// which activations need the layer output for their gradient, and names.
#include <gtest/gtest.h>

#include "sprint/backend/api/common.h"

namespace sprint {
namespace {

TEST(Activation, ForwardBackwardAndNames) {
  for (double pre : {-2.5, -0.0, 0.0, 1e-30, 3.0}) {
    EXPECT_EQ(activation_forward(Activation::kNone, pre), pre);
    EXPECT_EQ(activation_forward(Activation::kReLU, pre), pre > 0.0 ? pre : 0.0);
  }
  EXPECT_FALSE(activation_needs_output(Activation::kNone));
  EXPECT_TRUE(activation_needs_output(Activation::kReLU));
  EXPECT_EQ(activation_backward_from_output(Activation::kNone, 0.7, 0.0), 0.7);
  EXPECT_EQ(activation_backward_from_output(Activation::kReLU, 0.7, 0.0), 0.0);  // y = 0: pre <= 0
  EXPECT_EQ(activation_backward_from_output(Activation::kReLU, 0.7, 2.0), 0.7);
  EXPECT_EQ(activation_name(Activation::kNone), "none");
  EXPECT_EQ(activation_name(Activation::kReLU), "relu");
}

}  // namespace
}  // namespace sprint
