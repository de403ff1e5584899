// linear_parity_test.cpp: linear forward/backward on every backend vs the CPU reference.
#include <gtest/gtest.h>

#include <span>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/linear.h"
#include "sprint/runtime/cpu/cpu_context.h"
#include "sprint/runtime/device_registry.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {
using testing::ParityCase;

std::vector<Tensor> make_linear_inputs(Generator& rng, int64_t n, int64_t in, int64_t out) {
  return {testing::random_tensor({n, in}, DType::kF64, rng), testing::random_tensor({out, in}, DType::kF64, rng),
          testing::random_tensor({out}, DType::kF64, rng), testing::random_tensor({n, out}, DType::kF64, rng)};
}

Tensor like(const Stream& s, const Shape& shape, const Tensor& proto) {
  return Tensor::empty(shape, proto.dtype(), s.context().allocator());
}

void run_linear_case(const std::string& name, int64_t n, int64_t in, int64_t out, Activation act, bool accumulate) {
  ParityCase c{
      .name = name,
      .make_inputs = [=](Generator& rng) { return make_linear_inputs(rng, n, in, out); },
      .run = [=](const Stream& s, const std::vector<Tensor>& v) {
        const Tensor &x = v[0], &w = v[1], &b = v[2], &dy = v[3];
        Tensor y = like(s, {n, out}, x), dx = like(s, {n, in}, x), dw = like(s, {out, in}, x), db = like(s, {out}, x);
        Tensor scratch = like(s, {n, out}, x);
        ops::linear_forward(s, {.x = x, .w = w, .b = b, .y = y, .activation = act});
        const GradMode mode = accumulate ? GradMode::kAccumulate : GradMode::kOverwrite;
        if (accumulate) {  // start from a known gradient: the same backward once in overwrite mode
          ops::linear_backward(s, {.dy = dy, .x = x, .w = w, .y = y, .scratch = scratch, .dx = dx, .dw = dw, .db = db,
                                   .activation = act});
        }
        ops::linear_backward(s, {.dy = dy, .x = x, .w = w, .y = y, .scratch = scratch, .dx = dx, .dw = dw, .db = db,
                                 .activation = act, .dx_mode = mode, .param_mode = mode});
        return std::vector<Tensor>{y, dx, dw, db};
      },
      .ignore_outputs = {}};
  // K up to 300: f16 accumulation error grows with K; compare against the bound for sums of K products.
  c.tolerance[DType::kF16] = {2e-2, 2e-2};
  c.tolerance[DType::kBF16] = {5e-2, 1e-1};
  testing::run_parity(c);
}

// Mixed precision's weight gradients: f16/bf16 x and dy with f32 dw and db, written (or added to an f32 gradient
// holding bits that no half value has) in f32: the sums of the exact products of half values match the reference
// on the rounded inputs to f32 accuracy on every backend (cuBLASLt writes the f32 D itself), where a dw rounded
// to half would be off by up to 2^-9 (bf16) or 2^-12 (f16) of its value.
void run_f32_weight_grad_case(const std::string& name, int64_t n, int64_t in, int64_t out, bool accumulate) {
  ParityCase c{
      .name = name + "/f32-grads",
      .make_inputs = [=](Generator& rng) { return make_linear_inputs(rng, n, in, out); },
      .run = [=](const Stream& s, const std::vector<Tensor>& v) {
        const Tensor &x = v[0], &w = v[1], &b0 = v[2], &dy = v[3];
        const DType grad_dtype = dtype_is_half(x.dtype()) ? DType::kF32 : x.dtype();
        Allocator& alloc = s.context().allocator();
        Tensor dw = Tensor::empty({out, in}, grad_dtype, alloc), db = Tensor::empty({out}, grad_dtype, alloc);
        if (accumulate) {  // start from w + 1/3 and b + 1/3 as f32 gradients
          const Stream& host = cpu_context().compute_stream();
          const auto start = [&](const Tensor& t) {
            Tensor f = ops::cast_to(host, ops::to_host(s, t), DType::kF64);
            for (double& e : std::span<double>(f.data_as<double>(), f.numel())) e += 1.0 / 3.0;
            return ops::to_stream_device(s, ops::cast_to(host, f, grad_dtype));
          };
          ops::copy(s, start(w), dw);
          ops::copy(s, start(b0), db);
        }
        const GradMode mode = accumulate ? GradMode::kAccumulate : GradMode::kOverwrite;
        ops::linear_backward(s, {.dy = dy, .x = x, .w = w, .y = kNoTensor, .scratch = kNoTensor, .dx = kNoTensor,
                                 .dw = dw, .db = db, .param_mode = mode});
        return std::vector<Tensor>{dw, db};
      },
      .dtypes = {DType::kF16, DType::kBF16}};
  c.tolerance[DType::kF16] = {1e-5, 2e-5};
  c.tolerance[DType::kBF16] = {1e-5, 2e-5};
  testing::run_parity(c);
}

TEST(LinearParity, F32WeightGradientsOfHalfOperands) {
  run_f32_weight_grad_case("linear/64x300", 64, 300, 96, false);
  run_f32_weight_grad_case("linear/accumulate", 13, 37, 10, true);
}

// Parameter gradients are the operands' dtype, or f32 beside half operands, and dw and db agree.
TEST(LinearParity, ParameterGradientDtypesAreChecked) {
  SPRINT_PARITY_HOST_ONLY();
  const Stream s = cpu_context().compute_stream();
  const auto backward = [&](DType operands, DType dw_dtype, DType db_dtype) {
    const Tensor x = Tensor::empty({2, 3}, operands), w = Tensor::empty({4, 3}, operands);
    const Tensor dy = Tensor::empty({2, 4}, operands);
    ops::fill(s, x, 0.5);
    ops::fill(s, w, 0.5);
    ops::fill(s, dy, 0.5);
    const Tensor dw = Tensor::empty({4, 3}, dw_dtype), db = Tensor::empty({4}, db_dtype);
    ops::linear_backward(s, {.dy = dy, .x = x, .w = w, .y = kNoTensor, .scratch = kNoTensor, .dx = kNoTensor,
                             .dw = dw, .db = db});
  };
  EXPECT_NO_THROW(backward(DType::kBF16, DType::kF32, DType::kF32));
  EXPECT_NO_THROW(backward(DType::kF16, DType::kF16, DType::kF16));
  EXPECT_THROW(backward(DType::kF32, DType::kBF16, DType::kBF16), InvalidArgument);
  EXPECT_THROW(backward(DType::kF64, DType::kF32, DType::kF32), InvalidArgument);
  EXPECT_THROW(backward(DType::kBF16, DType::kF32, DType::kBF16), InvalidArgument);
  EXPECT_THROW(backward(DType::kBF16, DType::kF16, DType::kF16), InvalidArgument);
}

TEST(LinearParity, Plain) { run_linear_case("linear", 16, 33, 10, Activation::kNone, false); }
TEST(LinearParity, FusedRelu) { run_linear_case("linear/relu", 64, 128, 96, Activation::kReLU, false); }
TEST(LinearParity, Accumulate) { run_linear_case("linear/accumulate", 8, 20, 12, Activation::kReLU, true); }
TEST(LinearParity, MlpShapes) { run_linear_case("linear/784x128", 64, 784, 128, Activation::kReLU, false); }

// The CPU's fast path runs on any of its GEMMs (oneDNN above); each must match the reference.
TEST(LinearParity, EveryCpuGemmMatchesTheReferenceToo) {
  CpuContext& cpu = cpu_context();
  for (CpuGemm g : {CpuGemm::kOneDnn, CpuGemm::kOpenBlas, CpuGemm::kSprint}) {
    cpu.set_gemm(g);
    run_linear_case("linear/gemm" + std::to_string(static_cast<int>(g)), 64, 784, 128, Activation::kReLU, false);
    run_linear_case("linear/gemm" + std::to_string(static_cast<int>(g)) + "/accumulate", 8, 20, 12,
                    Activation::kReLU, true);
    run_linear_case("linear/gemm" + std::to_string(static_cast<int>(g)) + "/odd", 13, 301, 97, Activation::kNone,
                    false);
  }
  cpu.set_gemm(CpuGemm::kOneDnn);
}

}  // namespace
}  // namespace sprint
