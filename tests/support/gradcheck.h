// gradcheck.h: finite-difference gradient checks in float64 on the CPU (the oracle for every backward).
// For a module M, a fixed random upstream gradient g defines L(x, θ) = Σ M(x; θ) ⊙ g; dL/dx and dL/dθ from
// M.backward are compared with central differences (L(v + ε) − L(v − ε)) / 2ε element by element. The check also
// covers GradMode: a second backward without zero_grad must double every parameter gradient (accumulate).
#pragma once

#include <functional>

#include "sprint/nn/loss.h"
#include "sprint/nn/module.h"
#include "sprint/nn/replica_sum.h"

namespace sprint::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double rtol = 1e-5;
  double atol = 1e-8;
  uint64_t seed = 1234;
  double input_low = -1.0;
  double input_high = 1.0;
  bool check_input_grad = true;
  bool training = true;
  /// Probes at most this many elements per tensor (spread evenly) to keep big layers fast; 0 = all.
  int64_t max_probes = 0;
  /// Input memory format (4-D inputs only).
  MemoryFormat input_format = MemoryFormat::kContiguous;
  /// Put in the RunContext (synchronised batch norm over these replicas); null: none.
  nn::ReplicaSum* replica_sum = nullptr;
};

/// `module` must hold f64 parameters on the CPU.
void expect_module_gradients(nn::Module& module, const Shape& input_shape, const GradcheckOptions& options = {});

/// Checks d loss / d input for (N, K) f64 inputs and random targets in [0, K).
void expect_loss_gradients(nn::Loss& loss, int64_t n, int64_t k, const GradcheckOptions& options = {});

}  // namespace sprint::testing
