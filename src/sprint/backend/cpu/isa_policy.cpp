// isa_policy.cpp: the 8-channel-block policy of isa_policy.h.
#include "sprint/backend/cpu/isa_policy.h"

#include <cstdlib>

#include "sprint/backend/cpu/cpu_identity.h"

namespace sprint::cpu {

std::string avx2_cap_reason(const IsaFacts& f) {
  if (!f.avx512f || f.onednn_env) return "";
  if (f.winograd_env == "0" || f.winograd_env == "off") return "";
  if (f.winograd_env == "1" || f.winograd_env == "on")
    return "SPRINT_WINOGRAD=1 (the Winograd convolutions work on 8-channel blocks)";
  if (f.amd && f.family == 0x19)
    return "AMD Zen 4 runs AVX-512 on 256-bit units, where the AVX2 Winograd convolutions are faster "
           "(SPRINT_WINOGRAD=0 keeps 16-channel blocks)";
  if (f.amd && f.family == 0x1a)
    return "on AMD Zen 5 the AVX2 Winograd convolutions beat oneDNN's AVX-512 direct ones too "
           "(SPRINT_WINOGRAD=0 keeps 16-channel blocks)";
  return "";
}

IsaFacts isa_facts() {
  const CpuIdentity id = cpu_identity();
  IsaFacts f;
  f.amd = id.amd();
  f.family = id.family;
  f.avx512f = id.has("avx512f");
  if (const char* w = std::getenv("SPRINT_WINOGRAD")) f.winograd_env = w;
  f.onednn_env = std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr || std::getenv("DNNL_MAX_CPU_ISA") != nullptr;
  return f;
}

const std::string& apply_isa_policy() {
  static const std::string reason = avx2_cap_reason(isa_facts());
  return reason;
}

}  // namespace sprint::cpu
