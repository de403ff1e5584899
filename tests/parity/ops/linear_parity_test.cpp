// linear_parity_test.cpp: linear forward/backward on every backend vs the CPU reference.
#include <gtest/gtest.h>

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
