// parity.cpp: the backend parity harness.
#include "support/parity.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

Tolerance tolerance_for(const ParityCase& c, DType dtype) {
  if (auto it = c.tolerance.find(dtype); it != c.tolerance.end()) return it->second;
  switch (dtype) {
    case DType::kF16: return {1e-2, 1e-3};
    case DType::kBF16: return {5e-2, 1e-2};
    default: return {1e-4, 1e-5};
  }
}

std::vector<Tensor> convert_inputs(const Stream& s, const std::vector<Tensor>& host, DType dtype, MemoryFormat fmt) {
  std::vector<Tensor> out;
  for (const Tensor& t : host) {
    if (!t.defined()) {
      out.push_back(t);
      continue;
    }
    const bool floating = dtype_is_floating(t.dtype());
    const MemoryFormat f = (floating && t.ndim() == 4) ? fmt : MemoryFormat::kContiguous;
    // Convert on the host first (cast supports every pair there), then move.
    Tensor h = ops::cast_to(cpu_context().compute_stream(), t, floating ? dtype : t.dtype(), f);
    if (s.device().is_cpu()) {
      out.push_back(h);
    } else {
      Tensor d = Tensor::empty(h.shape(), h.dtype(), s.context().allocator(), f);
      ops::copy(s, Tensor::wrap(h.data(), {h.numel()}, h.dtype()), Tensor::wrap(d.data(), {d.numel()}, d.dtype(), d.device()));
      out.push_back(d);
    }
  }
  return out;
}

void compare_outputs(const ParityCase& c, const std::vector<Tensor>& got, const std::vector<Tensor>& ref,
                     const std::string& label, DType dtype) {
  ASSERT_EQ(got.size(), ref.size()) << label;
  const Tolerance tol = tolerance_for(c, dtype);
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::find(c.ignore_outputs.begin(), c.ignore_outputs.end(), i) != c.ignore_outputs.end()) continue;
    // Integer outputs (max-pool indices, predictions) must match exactly: a tolerance would let an index off by
    // one pass.
    const bool exact = !dtype_is_floating(got[i].dtype());
    EXPECT_TRUE(all_close(got[i], ref[i], exact ? 0.0 : tol.rtol, exact ? 0.0 : tol.atol))
        << c.name << " output " << i << " on " << label;
  }
}

/// Which half of each case this process runs: SPRINT_PARITY_BACKEND=cpu (the CPU fast path), =cuda (the CUDA
/// backend; skipped, as CTest sees it, without a device), unset: both. CTest registers every parity test once
/// per backend (tests/parity/CMakeLists.txt).
enum class Half { kBoth, kCpu, kCuda };
Half half_under_test() {
  const char* v = std::getenv("SPRINT_PARITY_BACKEND");
  if (v == nullptr || *v == '\0') return Half::kBoth;
  const std::string s(v);
  if (s == "cpu") return Half::kCpu;
  if (s == "cuda") return Half::kCuda;
  ADD_FAILURE() << "SPRINT_PARITY_BACKEND must be cpu or cuda, got '" << s << "'";
  return Half::kBoth;
}

}  // namespace

ReferenceModeGuard::ReferenceModeGuard(bool on) : previous_(cpu_context().reference_only()) {
  cpu_context().set_reference_only(on);
}
ReferenceModeGuard::~ReferenceModeGuard() { cpu_context().set_reference_only(previous_); }

bool parity_backend_is_cuda() { return half_under_test() == Half::kCuda; }

// The case run by the CPU reference loops in float64 on the inputs *as the backend under test sees them*:
// floating inputs rounded to `dtype` first. Rounding to f16/bf16 moves values across discrete decisions (the
// max-pool argmax, the ReLU mask, ties in an argmax), so a reference built from unrounded inputs would blame the
// backend for the inputs' rounding.
std::vector<Tensor> reference_outputs(const ParityCase& c, const std::vector<Tensor>& host_inputs, DType dtype) {
  const Stream cpu = cpu_context().compute_stream();
  std::vector<Tensor> rounded = convert_inputs(cpu, host_inputs, dtype, MemoryFormat::kContiguous);
  ReferenceModeGuard guard(true);
  return c.run(cpu, convert_inputs(cpu, rounded, DType::kF64, MemoryFormat::kContiguous));
}



void run_parity(const ParityCase& c) {
  SCOPED_TRACE(c.name);
  const Half half = half_under_test();
  const bool cpu_only = channel_block(c.input_format) != 0 || c.dtypes.empty();
  if (half == Half::kCuda) {
    // A case that only exists on the CPU: a test made of such cases has nothing to run on CUDA (skipped); a
    // channel-blocked variant inside a test that also has CUDA cases is simply not a CUDA case.
    if (c.dtypes.empty()) GTEST_SKIP() << c.name << " is a CPU-only case";
    if (cpu_only) return;
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  }
  Generator rng(c.seed);
  const std::vector<Tensor> host_inputs = c.make_inputs(rng);
  const Stream cpu = cpu_context().compute_stream();

  if (half != Half::kCuda) {
    const std::vector<Tensor> reference = reference_outputs(c, host_inputs, DType::kF32);
    ReferenceModeGuard guard(false);
    compare_outputs(c, c.run(cpu, convert_inputs(cpu, host_inputs, DType::kF32, c.input_format)), reference,
                    "cpu/f32", DType::kF32);
    for (DType dtype : c.dtypes) {
      if (dtype != DType::kF16 && dtype != DType::kBF16) continue;
      const std::string label = "cpu/" + std::string(dtype_name(dtype));
      compare_outputs(c, c.run(cpu, convert_inputs(cpu, host_inputs, dtype, c.input_format)),
                      reference_outputs(c, host_inputs, dtype), label, dtype);
    }
  }
  if (half == Half::kCpu || cpu_only) return;
  if (cuda_device_count() == 0) {  // both halves in one process (SPRINT_PARITY_BACKEND unset)
    std::printf("[ SKIPPED  ] %s on cuda: %s\n", c.name.c_str(), cuda_unavailable_reason().c_str());
    return;
  }
  const Stream gpu = device_context(cuda_device(0)).compute_stream();
  for (DType dtype : c.dtypes) {
    const std::string label = "cuda/" + std::string(dtype_name(dtype));
    const std::vector<Tensor> reference = reference_outputs(c, host_inputs, dtype);
    std::vector<Tensor> out = c.run(gpu, convert_inputs(gpu, host_inputs, dtype, c.input_format));
    gpu.synchronize();
    compare_outputs(c, out, reference, label, dtype);
  }
}

}  // namespace sprint::testing
