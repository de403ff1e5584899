// conv_parity_test.cpp: conv2d forward / backward-data / backward-weight on every backend vs the CPU
// reference, in every memory format (NCHW, NHWC, and on the CPU channel-blocked by 8 and 16, including a plain
// input feeding blocked layers): the cnn model's shapes, strides, padding, dilation, groups, fused ReLU, accumulate.
// Weights and weight gradients are stored as the layers keep them (ops::preferred_weight_format: blocked weights
// next to channel-blocked activations on the CPU fast path, KCRS otherwise).
#include <gtest/gtest.h>

#include <cmath>
#include <span>

#include "sprint/ops/conv.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

struct ConvCase {
  std::string name;
  int64_t n, c, h, w, k, kernel;
  Conv2dParams params;
  bool bias = true;
  Activation activation = Activation::kNone;
  bool accumulate = false;
};

void run_conv_case(const ConvCase& cc, MemoryFormat format) {
  const Shape x_shape{cc.n, cc.c, cc.h, cc.w}, w_shape{cc.k, cc.c / cc.params.groups, cc.kernel, cc.kernel};
  const Shape y_shape = ops::conv2d_output_shape(x_shape, w_shape, cc.params);
  ParityCase c{
      .name = cc.name + "/" + memory_format_name(format),
      .make_inputs =
          [=](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor(x_shape, DType::kF64, rng),
                                       testing::random_tensor(w_shape, DType::kF64, rng),
                                       testing::random_tensor({cc.k}, DType::kF64, rng),
                                       testing::random_tensor(y_shape, DType::kF64, rng)};
          },
      .run =
          [=](const Stream& s, const std::vector<Tensor>& v) {
            const Tensor& x = v[0];
            // The harness gives every 4-D input the format under test; weights take the layers' layout.
            const MemoryFormat wf = ops::preferred_weight_format(s, x, cc.params.groups);
            const Tensor w = ops::cast_to(s, v[1], v[1].dtype(), wf);
            const Tensor& b = cc.bias ? v[2] : kNoTensor;
            const Tensor& dy = v[3];
            Allocator& alloc = s.context().allocator();
            Tensor y = Tensor::empty(y_shape, x.dtype(), alloc, x.memory_format());
            Tensor dx = Tensor::empty(x_shape, x.dtype(), alloc, x.memory_format());
            Tensor dw = Tensor::empty(w_shape, x.dtype(), alloc, wf);
            Tensor db = Tensor::empty({cc.k}, x.dtype(), alloc);
            ops::conv2d_forward(
                s, {.x = x, .w = w, .b = b, .y = y, .params = cc.params, .activation = cc.activation});
            const Conv2dBackwardDataArgs bd{.dy = dy, .w = w, .dx = dx, .params = cc.params};
            const Conv2dBackwardWeightArgs bw{
                .dy = dy, .x = x, .dw = dw, .db = cc.bias ? db : kNoTensor, .params = cc.params};
            ops::conv2d_backward_data(s, bd);
            ops::conv2d_backward_weight(s, bw);
            if (cc.accumulate) {  // a second pass adds the same gradients again
              ops::conv2d_backward_data(
                  s, {.dy = dy, .w = w, .dx = dx, .params = cc.params, .mode = GradMode::kAccumulate});
              ops::conv2d_backward_weight(s, {.dy = dy,
                                              .x = x,
                                              .dw = dw,
                                              .db = cc.bias ? db : kNoTensor,
                                              .params = cc.params,
                                              .mode = GradMode::kAccumulate});
            }
            std::vector<Tensor> out{y, dx, dw};
            if (cc.bias) out.push_back(db);
            return out;
          },
      .input_format = format};
  // Sums of up to C·R·S (forward, dw: N·P·Q) products of U(-1, 1) values: compare with an absolute floor.
  c.tolerance[DType::kF32] = {1e-4, 2e-4};
  c.tolerance[DType::kF16] = {2e-2, 5e-2};
  c.tolerance[DType::kBF16] = {5e-2, 2e-1};
  testing::run_parity(c);
}

// Mixed precision's weight gradients: f16/bf16 x and dy with f32 dw and db, written (or added to an f32 gradient
// that holds bits no half value has) without rounding the f32 result. `tight` is the CPU's promise (its kernels sum
// the exact products of the widened operands in f32); cuDNN writes its filter gradient in the operands' dtype and
// the backend widens it, so the all-backend case compares at the half dtypes' tolerances.
void run_f32_weight_grad_case(const ConvCase& cc, MemoryFormat format, bool tight) {
  const Shape x_shape{cc.n, cc.c, cc.h, cc.w}, w_shape{cc.k, cc.c / cc.params.groups, cc.kernel, cc.kernel};
  const Shape y_shape = ops::conv2d_output_shape(x_shape, w_shape, cc.params);
  ParityCase c{
      .name = cc.name + "/f32-grads/" + memory_format_name(format),
      .make_inputs =
          [=](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor(x_shape, DType::kF64, rng),
                                       testing::random_tensor(y_shape, DType::kF64, rng),
                                       testing::random_tensor({w_shape.product()}, DType::kF64, rng),
                                       testing::random_tensor({cc.k}, DType::kF64, rng)};
          },
      .run =
          [=](const Stream& s, const std::vector<Tensor>& v) {
            const Tensor &x = v[0], &dy = v[1];
            const DType grad_dtype = dtype_is_half(x.dtype()) ? DType::kF32 : x.dtype();
            const MemoryFormat wf = ops::preferred_weight_format(s, x, cc.params.groups);
            Allocator& alloc = s.context().allocator();
            Tensor dw = Tensor::empty(w_shape, grad_dtype, alloc, wf), db = Tensor::empty({cc.k}, grad_dtype, alloc);
            if (cc.accumulate) {  // start from gradients with a third added: bits that no half value has
              const Stream& host = cpu_context().compute_stream();
              const auto start = [&](const Tensor& t, const Shape& shape) {
                Tensor f = ops::cast_to(host, ops::to_host(s, t), DType::kF64);
                for (double& e : std::span<double>(f.data_as<double>(), f.numel())) e += 1.0 / 3.0;
                return ops::cast_to(host, f, grad_dtype).reshape(shape);
              };
              ops::copy(s, ops::to_stream_device(s, start(v[2], w_shape)), dw);
              ops::copy(s, ops::to_stream_device(s, start(v[3], {cc.k})), db);
            }
            ops::conv2d_backward_weight(s, {.dy = dy,
                                            .x = x,
                                            .dw = dw,
                                            .db = cc.bias ? db : kNoTensor,
                                            .params = cc.params,
                                            .mode = cc.accumulate ? GradMode::kAccumulate : GradMode::kOverwrite});
            std::vector<Tensor> out{dw};
            if (cc.bias) out.push_back(db);
            return out;
          },
      .dtypes = {DType::kF16, DType::kBF16},
      .input_format = format};
  c.tolerance[DType::kF32] = {1e-4, 2e-4};
  if (tight) {
    c.tolerance[DType::kF16] = {1e-5, 2e-5};
    c.tolerance[DType::kBF16] = {1e-5, 2e-5};
  } else {
    c.tolerance[DType::kF16] = {2e-3, 5e-3};
    c.tolerance[DType::kBF16] = {1e-2, 4e-2};
  }
  testing::run_parity(c);
}

void run_both(const ConvCase& cc) {
  run_conv_case(cc, MemoryFormat::kContiguous);
  run_conv_case(cc, MemoryFormat::kChannelsLast);
  run_conv_case(cc, MemoryFormat::kChannelsBlocked8);
  run_conv_case(cc, MemoryFormat::kChannelsBlocked16);
}

// A network's first convolution on the CPU: a plain input (NCHW or NHWC, few channels) and channel-blocked
// output and output gradient, as RunContext::activation_format makes them; CPU only.
void run_first_layer_case(const std::string& name, int64_t c, MemoryFormat x_format, MemoryFormat y_format) {
  const Shape x_shape{3, c, 10, 9}, w_shape{16, c, 3, 3};
  const Conv2dParams params{.padding = 1};
  const Shape y_shape = ops::conv2d_output_shape(x_shape, w_shape, params);
  ParityCase pc{
      .name = name + "/" + memory_format_name(x_format) + "->" + memory_format_name(y_format),
      .make_inputs =
          [=](Generator& rng) {
            return std::vector<Tensor>{testing::random_tensor(x_shape, DType::kF64, rng),
                                       testing::random_tensor(w_shape, DType::kF64, rng),
                                       testing::random_tensor({16}, DType::kF64, rng),
                                       testing::random_tensor(y_shape, DType::kF64, rng)};
          },
      .run =
          [=](const Stream& s, const std::vector<Tensor>& v) {
            const DType dt = v[0].dtype();
            const Tensor x = ops::cast_to(s, v[0], dt, x_format), dy = ops::cast_to(s, v[3], dt, y_format);
            const Tensor &w = v[1], &b = v[2];
            Allocator& alloc = s.context().allocator();
            Tensor y = Tensor::empty(y_shape, dt, alloc, y_format), dx = Tensor::empty(x_shape, dt, alloc, x_format);
            Tensor dw = Tensor::empty(w_shape, dt, alloc), db = Tensor::empty({16}, dt, alloc);
            ops::conv2d_forward(s, {.x = x, .w = w, .b = b, .y = y, .params = params, .activation = Activation::kReLU});
            ops::conv2d_backward_data(s, {.dy = dy, .w = w, .dx = dx, .params = params});
            ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = db, .params = params});
            return std::vector<Tensor>{y, dx, dw, db};
          },
      .dtypes = {}};
  pc.tolerance[DType::kF32] = {1e-4, 2e-4};
  testing::run_parity(pc);
}

TEST(ConvParity, PlainInputIntoBlockedLayers) {
  for (MemoryFormat y : {MemoryFormat::kChannelsBlocked8, MemoryFormat::kChannelsBlocked16}) {
    run_first_layer_case("conv/first", 1, MemoryFormat::kContiguous, y);
    run_first_layer_case("conv/first", 3, MemoryFormat::kContiguous, y);
    run_first_layer_case("conv/first", 3, MemoryFormat::kChannelsLast, y);
    run_first_layer_case("conv/first", 1, MemoryFormat::kChannelsLast, y);
  }
}

// Blocked weights reach the reference loops too (a context switched to reference mode mid-run, f32): they read
// them through the layout, and write weight gradients into it with the padding left at 0.
TEST(ConvParity, ReferenceLoopsReadAndWriteBlockedWeights) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  Generator rng(5);
  const Conv2dParams params{.padding = 1};
  const Tensor x = ops::cast_to(s, testing::random_tensor({2, 11, 6, 5}, DType::kF32, rng), DType::kF32,
                                MemoryFormat::kChannelsBlocked8);
  const Tensor w = testing::random_tensor({13, 11, 3, 3}, DType::kF32, rng);
  const Tensor wb = ops::cast_to(s, w, DType::kF32, MemoryFormat::kWeightsBlocked8);
  const Shape y_shape = ops::conv2d_output_shape(x.shape(), w.shape(), params);
  const Tensor dy = ops::cast_to(s, testing::random_tensor(y_shape, DType::kF32, rng), DType::kF32,
                                 MemoryFormat::kChannelsBlocked8);
  testing::ReferenceModeGuard guard(true);
  Allocator& alloc = s.context().allocator();
  auto run = [&](const Tensor& weights) {
    Tensor y = Tensor::empty(y_shape, DType::kF32, alloc, MemoryFormat::kChannelsBlocked8);
    Tensor dx = Tensor::empty(x.shape(), DType::kF32, alloc, MemoryFormat::kChannelsBlocked8);
    Tensor dw = Tensor::empty(w.shape(), DType::kF32, alloc, weights.memory_format());
    ops::conv2d_forward(s, {.x = x, .w = weights, .b = kNoTensor, .y = y, .params = params});
    ops::conv2d_backward_data(s, {.dy = dy, .w = weights, .dx = dx, .params = params});
    ops::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = kNoTensor, .params = params});
    return std::vector<Tensor>{y, dx, dw};
  };
  const std::vector<Tensor> plain = run(w), blocked = run(wb);
  ASSERT_TRUE(blocked[2].is_weight_blocked());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_TRUE(testing::all_close(blocked[i], plain[i], 0.0, 0.0)) << i;
  // Padding of the blocked gradient (K 13 -> 16, C 11 -> 16) stays 0: its storage holds exactly the logical sum.
  const float* p = blocked[2].data_as<float>();
  double storage_sum = 0.0, logical_sum = 0.0;
  for (int64_t i = 0; i < blocked[2].storage_numel(); ++i) storage_sum += std::fabs(p[i]);
  for (float v : plain[2].to_vector<float>()) logical_sum += std::fabs(v);
  EXPECT_NEAR(storage_sum, logical_sum, 1e-9 * logical_sum);
}

TEST(ConvParity, CnnFirstLayer) {
  run_both({"conv/cnn1", 4, 1, 28, 28, 32, 3, {.padding = 1}});
}
TEST(ConvParity, CnnSecondLayer) {
  run_both({"conv/cnn2", 4, 32, 14, 14, 64, 3, {.padding = 1}});
}
TEST(ConvParity, FusedRelu) {
  run_both({"conv/relu", 3, 8, 9, 9, 16, 3, {.padding = 1}, true, Activation::kReLU});
}
TEST(ConvParity, Stride2NoBias) {
  run_both({"conv/stride2", 2, 16, 11, 10, 24, 3, {.stride = 2}, false});
}
TEST(ConvParity, Pointwise) {
  run_both({"conv/1x1s2", 2, 16, 8, 8, 32, 1, {.stride = 2}, false});
}
TEST(ConvParity, DilationAndGroups) {
  run_both({"conv/dilated", 2, 6, 9, 9, 4, 3, {.padding = 2, .dilation = 2}});
  run_both({"conv/groups", 2, 8, 6, 6, 12, 3, {.padding = 1, .groups = 4}});
}
TEST(ConvParity, Accumulate) {
  run_both({"conv/accumulate", 2, 8, 7, 7, 16, 3, {.padding = 1}, true, Activation::kNone, true});
}
TEST(ConvParity, F32WeightGradientsOfHalfOperands) {
  for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast, MemoryFormat::kChannelsBlocked8,
                         MemoryFormat::kChannelsBlocked16}) {
    run_f32_weight_grad_case({"conv/resnet", 2, 64, 8, 8, 64, 3, {.padding = 1}, true}, f, false);
    run_f32_weight_grad_case({"conv/accumulate", 2, 8, 7, 7, 16, 3, {.padding = 1}, true, Activation::kNone, true},
                             f, false);
  }
}

TEST(ConvParity, F32WeightGradientsOnTheCpuAreNotRoundedToHalf) {
  SPRINT_PARITY_HOST_ONLY();
  for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsBlocked16})
    for (bool accumulate : {false, true})
      run_f32_weight_grad_case(
          {"conv/tight", 2, 16, 8, 8, 32, 3, {.padding = 1}, true, Activation::kNone, accumulate}, f, true);
}

TEST(ConvParity, ResNetShape) {
  run_both({"conv/resnet", 2, 64, 8, 8, 64, 3, {.padding = 1}, false});
}

}  // namespace
}  // namespace sprint
