// isa_policy.h: the instruction set oneDNN may use, chosen once per process before its first use. On CPUs
// that run AVX-512 on 256-bit units (AMD Zen 4: family 0x19 with avx512f), sprint's AVX2 Winograd
// convolutions on 8-channel blocks beat oneDNN 2.6's AVX-512 direct convolutions on 16-channel blocks
// (measured on a Zen 4 EPYC, training steps: resnet18 1.37x, airbench94 1.24x, cnn even; docs/benchmarks.md),
// so there oneDNN is capped at AVX2 and the conv models take the 8-channel layout. SPRINT_WINOGRAD=0 leaves
// oneDNN its best ISA (and so no Winograd on AVX-512 CPUs); SPRINT_WINOGRAD=1 caps every AVX-512 CPU;
// ONEDNN_MAX_CPU_ISA, when set, is left to oneDNN.
#pragma once

#include <string>

namespace sprint::cpu {

/// What the policy looks at.
struct IsaFacts {
  bool amd = false;  ///< vendor_id AuthenticAMD
  int family = 0;    ///< cpu family (0x19 = 25: Zen 3 and Zen 4)
  bool avx512f = false;
  std::string winograd_env;  ///< SPRINT_WINOGRAD as given ("" when unset)
  bool onednn_env = false;   ///< ONEDNN_MAX_CPU_ISA (or DNNL_MAX_CPU_ISA) is set
};

/// Why an AVX-512 CPU takes 8-channel blocks ("" when it does not): the pure decision, for tests.
std::string avx2_cap_reason(const IsaFacts& facts);

/// Reads the facts of this machine and process (/proc/cpuinfo, the environment).
IsaFacts isa_facts();

/// Applies the decision once (thread-safe); every oneDNN entry point of the backend calls it first. Returns
/// the reason of the cap, or "" when oneDNN keeps its own ISA.
const std::string& apply_isa_policy();

}  // namespace sprint::cpu
