// parity.h: runs one op case on every compiled backend and compares it with the CPU reference in float64.
//
// How to add a case (tests/parity/<family>_parity_test.cpp):
//   ParityCase c{.name = "linear_forward/relu",
//                .make_inputs = [](Generator& rng) { return std::vector<Tensor>{...host f64 or i32 tensors...}; },
//                .run = [](const Stream& s, const std::vector<Tensor>& in) { ...allocate outputs on s's device with
//                        in[0].dtype(), call ops::..., return {outputs}; }};
//   run_parity(c);
// Backends under test: the CPU fast path (f32, and f16 and bf16 on widened copies) and, when built and present,
// CUDA (f32, f16, bf16 by default).
// The reference is the same case run with the CPU reference loops in f64, on the floating inputs rounded to the
// dtype under test (so that rounding cannot flip a max-pool argmax or a ReLU mask between reference and backend).
// Floating inputs are converted to the dtype under test (and to `input_format` for 4-D ones); integer inputs are
// copied as they are.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sprint/core/rng.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::testing {

struct Tolerance {
  double rtol;
  double atol;
};

struct ParityCase {
  std::string name;
  std::function<std::vector<Tensor>(Generator&)> make_inputs;
  std::function<std::vector<Tensor>(const Stream&, const std::vector<Tensor>&)> run;
  /// The dtypes the case runs in besides the CPU fast path's f32: all of them on CUDA, the half ones on the CPU
  /// (whose kernels run f16 and bf16 on widened f32 copies). Empty: a CPU f32-only case.
  std::vector<DType> dtypes = {DType::kF32, DType::kF16, DType::kBF16};
  /// Per dtype; defaults: f32 1e-4/1e-5, f16 1e-2/1e-3, bf16 5e-2/1e-2.
  std::map<DType, Tolerance> tolerance = {};
  /// Memory format given to 4-D floating inputs on the backend under test. Channel-blocked formats are CPU-only:
  /// such cases (and those with no dtypes) run the CPU backend against the reference and stop.
  MemoryFormat input_format = MemoryFormat::kContiguous;
  /// Indices of outputs to skip in the comparison (e.g. scratch outputs that backends fill differently).
  std::vector<size_t> ignore_outputs = {};
  uint64_t seed = 42;
};

/// The reference outputs the case is compared with for `dtype`: the case run by the CPU reference loops in f64
/// on its inputs rounded to `dtype` (integer inputs as they are).
std::vector<Tensor> reference_outputs(const ParityCase& c, const std::vector<Tensor>& host_inputs, DType dtype);

/// Runs the case; records gtest failures. SPRINT_PARITY_BACKEND=cpu runs the CPU fast path only, =cuda the CUDA
/// backend only (GTEST_SKIP without a device, so that CTest reports the test skipped); unset: both.
void run_parity(const ParityCase& c);

/// For host-only tests in the parity executables: skips them in the CUDA registration (SPRINT_PARITY_BACKEND=cuda),
/// where they would only repeat the CPU registration's run.
#define SPRINT_PARITY_HOST_ONLY()                                            \
  do {                                                                       \
    if (::sprint::testing::parity_backend_is_cuda()) GTEST_SKIP() << "host-only test: runs under cpu.*"; \
  } while (0)
bool parity_backend_is_cuda();

/// RAII switch of the CPU context to reference loops.
class ReferenceModeGuard {
 public:
  explicit ReferenceModeGuard(bool on);
  ~ReferenceModeGuard();

 private:
  bool previous_;
};

}  // namespace sprint::testing
