// layer_parity.h: runs one nn layer forward and backward on CUDA and on the CPU with the same parameters, inputs,
// output gradients and generator, and compares the outputs, input gradients, parameter gradients and buffers
// (BatchNorm's running statistics). The CPU side always runs in f32; for f16/bf16 cases the CUDA layer takes
// inputs, output gradients and Linear/Conv2d parameters in that dtype and the CPU reference gets the same values
// rounded to it, so only the arithmetic differs.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "sprint/core/rng.h"
#include "sprint/nn/module.h"
#include "sprint/runtime/stream.h"

namespace sprint::testing {

struct Tolerance {
  double rtol = 1e-4;
  double atol = 1e-5;
};

/// f32: 1e-4 / 1e-5; f16: 1e-2 / 1e-2; bf16: 4e-2 / 4e-2.
Tolerance layer_tolerance(DType dtype);

/// all_close(actual, expected, t.rtol, t.atol · max |expected|): rounding errors scale with the magnitudes a
/// result is summed from, so near-zero elements of a large tensor get an absolute allowance (atol alone when the
/// expected tensor is all zeros).
::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected, Tolerance t);

struct LayerParityCase {
  /// Builds the layer in f32 on the host; called twice with generators of equal seed (identical parameters).
  std::function<nn::ModulePtr(Generator&)> make;
  Shape input;
  DType dtype = DType::kF32;
  MemoryFormat format = MemoryFormat::kContiguous;  ///< of 4-D inputs and output gradients
  bool training = true;
  /// Training-mode forwards (fresh inputs each) on both sides before the checked call: moves BatchNorm's
  /// running statistics away from their initial values before an eval-mode check.
  int warmup_forwards = 0;
  double input_low = -1.0, input_high = 1.0;
  std::optional<Tolerance> tolerance;  ///< default: layer_tolerance(dtype)
  uint64_t seed = 1;
};

/// Runs the case on `gpu` (a CUDA stream) and on the CPU; reports mismatches as non-fatal test failures.
void check_layer_parity(const Stream& gpu, const LayerParityCase& c);

/// Casts the parameters of every Linear and Conv2d in `module` (recursively) to `dtype`, on the host.
void cast_dense_parameters(nn::Module& module, DType dtype);

}  // namespace sprint::testing
