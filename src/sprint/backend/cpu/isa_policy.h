// isa_policy.h: the channel block of the conv layers' activations on AVX-512 CPUs, chosen once per process. On
// AMD Zen 4 (family 0x19 with avx512f: AVX-512 on 256-bit units) and Zen 5 (family 0x1a), sprint's AVX2 Winograd
// convolutions on 8-channel blocks beat oneDNN 2.6's AVX-512 direct convolutions on 16-channel blocks (training
// steps, docs/benchmarks.md: Zen 4 resnet18 1.37x, airbench94 1.24x; Zen 5 resnet18 1.06x, airbench94 1.10x; cnn
// even on both), so there the conv layers take 8-channel blocks while oneDNN keeps AVX-512 for its GEMMs.
// SPRINT_WINOGRAD=0 keeps 16-channel blocks (and so no Winograd on AVX-512 CPUs); SPRINT_WINOGRAD=1 takes 8-channel
// blocks on every AVX-512 CPU; ONEDNN_MAX_CPU_ISA, when set, is left to oneDNN.
#pragma once

#include <string>

namespace sprint::cpu {

/// What the policy looks at.
struct IsaFacts {
  bool amd = false;  ///< vendor_id AuthenticAMD
  int family = 0;    ///< cpu family (0x19 = 25: Zen 3 and Zen 4; 0x1a = 26: Zen 5)
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
