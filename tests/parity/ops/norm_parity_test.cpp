// norm_parity_test.cpp: batch norm forward (training, inference) and backward, and its form around per-channel
// sums (synchronised batch norm: sums, statistics, backward sums, input gradient), on every backend vs the CPU
// reference, in NCHW, NHWC and (CPU) channel-blocked by 8 and 16; per-channel tensors in norm_param_dtype (f32 for f16/bf16 activations).
#include <gtest/gtest.h>

#include "sprint/ops/elementwise.h"
#include "sprint/ops/norm.h"
#include "sprint/ops/norm_sums.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

struct NormCase {
  std::string name;
  Shape shape;
  bool gamma = true, beta = true;
  bool accumulate = false;
};

// Inputs: x, dy, gamma, beta, running_mean, running_var.
std::vector<Tensor> make_norm_inputs(Generator& rng, const Shape& shape) {
  const int64_t c = shape[1];
  return {testing::random_tensor(shape, DType::kF64, rng, -1.0, 3.0),
          testing::random_tensor(shape, DType::kF64, rng),
          testing::random_tensor({c}, DType::kF64, rng, 0.5, 1.5),
          testing::random_tensor({c}, DType::kF64, rng),
          testing::random_tensor({c}, DType::kF64, rng),
          testing::random_tensor({c}, DType::kF64, rng, 0.5, 2.0)};
}

// The per-channel operands of a case on the tested backend (gamma, beta when the case has them; running
// statistics), in the per-channel dtype of x, and fresh activations / per-channel tensors for outputs.
struct NormOperands {
  NormOperands(const Stream& s, const NormCase& nc, const std::vector<Tensor>& v)
      : x(v[0]), pt(norm_param_dtype(x.dtype())), alloc(s.context().allocator()) {
    gamma = nc.gamma ? ops::cast_to(s, v[2], pt) : Tensor();
    beta = nc.beta ? ops::cast_to(s, v[3], pt) : Tensor();
    rm = ops::cast_to(s, v[4], pt);
    rv = ops::cast_to(s, v[5], pt);
  }
  Tensor activation() const { return Tensor::empty(x.shape(), x.dtype(), alloc, x.memory_format()); }
  Tensor per_channel() const { return Tensor::empty({x.dim(1)}, pt, alloc); }

  const Tensor& x;
  DType pt;
  Allocator& alloc;
  Tensor gamma, beta, rm, rv;
};

void run_norm_case(const NormCase& nc, MemoryFormat format) {
  ParityCase c{.name = nc.name + "/" + memory_format_name(format),
               .make_inputs = [=](Generator& rng) { return make_norm_inputs(rng, nc.shape); },
               .run =
                   [=](const Stream& s, const std::vector<Tensor>& v) {
                     const Tensor &x = v[0], &dy = v[1];
                     NormOperands o(s, nc, v);
                     Tensor &gamma = o.gamma, &beta = o.beta, &rm = o.rm, &rv = o.rv;
                     auto act = [&] { return o.activation(); };
                     auto vec = [&] { return o.per_channel(); };
                     Tensor y = act(), dx = act(), mean = vec(), invstd = vec(), dgamma = vec(),
                            dbeta = vec();
                     ops::batch_norm_forward_training(s, {.x = x,
                                                          .gamma = gamma,
                                                          .beta = beta,
                                                          .y = y,
                                                          .running_mean = rm,
                                                          .running_var = rv,
                                                          .save_mean = mean,
                                                          .save_invstd = invstd,
                                                          .eps = 1e-5,
                                                          .momentum = 0.1});
                     const BatchNormBackwardArgs bwd{.dy = dy,
                                                     .x = x,
                                                     .gamma = gamma,
                                                     .save_mean = mean,
                                                     .save_invstd = invstd,
                                                     .dx = dx,
                                                     .dgamma = nc.gamma ? dgamma : Tensor(),
                                                     .dbeta = nc.beta ? dbeta : Tensor()};
                     ops::batch_norm_backward(s, bwd);
                     if (nc.accumulate) {
                       ops::batch_norm_backward(s, {.dy = dy,
                                                    .x = x,
                                                    .gamma = gamma,
                                                    .save_mean = mean,
                                                    .save_invstd = invstd,
                                                    .dx = dx,
                                                    .dgamma = nc.gamma ? dgamma : Tensor(),
                                                    .dbeta = nc.beta ? dbeta : Tensor(),
                                                    .dx_mode = GradMode::kAccumulate,
                                                    .param_mode = GradMode::kAccumulate});
                     }
                     // Inference with the updated running statistics, then its backward (statistics held
                     // constant).
                     Tensor y_eval = act(), dx_eval = act(), mean_eval = vec(), invstd_eval = vec();
                     ops::batch_norm_forward_inference(s, {.x = x,
                                                           .gamma = gamma,
                                                           .beta = beta,
                                                           .y = y_eval,
                                                           .running_mean = rm,
                                                           .running_var = rv,
                                                           .save_mean = mean_eval,
                                                           .save_invstd = invstd_eval,
                                                           .eps = 1e-5});
                     ops::batch_norm_backward(s, {.dy = dy,
                                                  .x = x,
                                                  .gamma = gamma,
                                                  .save_mean = mean_eval,
                                                  .save_invstd = invstd_eval,
                                                  .dx = dx_eval,
                                                  .dgamma = Tensor(),
                                                  .dbeta = Tensor(),
                                                  .use_batch_stats = false});
                     std::vector<Tensor> out{y, dx, mean, invstd, rm, rv, y_eval, dx_eval};
                     if (nc.gamma) out.push_back(dgamma);
                     if (nc.beta) out.push_back(dbeta);
                     return out;
                   },
               .input_format = format};
  c.tolerance[DType::kF32] = {1e-4, 1e-4};
  testing::run_parity(c);
}

// The synchronised form for one replica: forward sums -> statistics (running update) -> normalise; backward
// sums (dgamma, dbeta) -> input gradient. Outputs: forward sums, mean, var, running statistics, y, invstd,
// backward sums, dx, and dgamma / dbeta when present.
void run_sums_case(const NormCase& nc, MemoryFormat format) {
  ParityCase c{.name = nc.name + "/sums/" + memory_format_name(format),
               .make_inputs = [=](Generator& rng) { return make_norm_inputs(rng, nc.shape); },
               .run =
                   [=](const Stream& s, const std::vector<Tensor>& v) {
                     const Tensor &x = v[0], &dy = v[1];
                     NormOperands o(s, nc, v);
                     Tensor &gamma = o.gamma, &beta = o.beta, &rm = o.rm, &rv = o.rv;
                     const int64_t ch = x.dim(1);
                     auto act = [&] { return o.activation(); };
                     auto vec = [&] { return o.per_channel(); };
                     Tensor sums = ops::batch_norm_sums_buffer(s, ch), grad_sums = ops::batch_norm_sums_buffer(s, ch);
                     Tensor mean = vec(), var = vec(), invstd = vec(), y = act(), dx = act(), dgamma = vec(),
                            dbeta = vec();
                     ops::batch_norm_sums(s, {.x = x, .sums = sums});
                     ops::batch_norm_statistics(s, {.sums = sums,
                                                    .mean = mean,
                                                    .var = var,
                                                    .running_mean = rm,
                                                    .running_var = rv,
                                                    .momentum = 0.1});
                     ops::batch_norm_forward_inference(s, {.x = x,
                                                           .gamma = gamma,
                                                           .beta = beta,
                                                           .y = y,
                                                           .running_mean = mean,
                                                           .running_var = var,
                                                           .save_mean = kNoTensor,
                                                           .save_invstd = invstd,
                                                           .eps = 1e-5});
                     const GradMode mode = nc.accumulate ? GradMode::kAccumulate : GradMode::kOverwrite;
                     if (nc.accumulate) {  // accumulate onto a first, overwriting pass
                       ops::batch_norm_backward_sums(s, {.dy = dy,
                                                         .x = x,
                                                         .save_mean = mean,
                                                         .save_invstd = invstd,
                                                         .sums = grad_sums,
                                                         .dgamma = nc.gamma ? dgamma : Tensor(),
                                                         .dbeta = nc.beta ? dbeta : Tensor()});
                       ops::batch_norm_input_grad(s, {.dy = dy,
                                                      .x = x,
                                                      .gamma = gamma,
                                                      .save_mean = mean,
                                                      .save_invstd = invstd,
                                                      .sums = grad_sums,
                                                      .dx = dx});
                     }
                     ops::batch_norm_backward_sums(s, {.dy = dy,
                                                       .x = x,
                                                       .save_mean = mean,
                                                       .save_invstd = invstd,
                                                       .sums = grad_sums,
                                                       .dgamma = nc.gamma ? dgamma : Tensor(),
                                                       .dbeta = nc.beta ? dbeta : Tensor(),
                                                       .param_mode = mode});
                     ops::batch_norm_input_grad(s, {.dy = dy,
                                                    .x = x,
                                                    .gamma = gamma,
                                                    .save_mean = mean,
                                                    .save_invstd = invstd,
                                                    .sums = grad_sums,
                                                    .dx = dx,
                                                    .dx_mode = mode});
                     std::vector<Tensor> out{sums, mean, var, rm, rv, y, invstd, grad_sums, dx};
                     if (nc.gamma) out.push_back(dgamma);
                     if (nc.beta) out.push_back(dbeta);
                     return out;
                   },
               .input_format = format};
  c.tolerance[DType::kF32] = {1e-4, 1e-4};
  testing::run_parity(c);
}

void run_both(const NormCase& nc) {
  for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast, MemoryFormat::kChannelsBlocked8,
                         MemoryFormat::kChannelsBlocked16}) {
    run_norm_case(nc, f);
    run_sums_case(nc, f);
  }
}

TEST(NormParity, Affine) {
  run_both({"bn/affine", {8, 16, 7, 7}});
}
TEST(NormParity, ShiftOnly) {
  run_both({"bn/shift-only", {4, 8, 5, 6}, false, true});
}
TEST(NormParity, ScaleOnly) {
  run_both({"bn/scale-only", {4, 8, 5, 6}, true, false});
}
TEST(NormParity, NoParameters) {
  run_both({"bn/plain", {6, 3, 4, 4}, false, false});
}
TEST(NormParity, Accumulate) {
  run_both({"bn/accumulate", {4, 12, 3, 5}, true, true, true});
}
TEST(NormParity, ResNetShape) {
  run_both({"bn/resnet", {8, 64, 8, 8}});
}

}  // namespace
}  // namespace sprint
