// isa_policy_test.cpp: the decision that puts the conv layers on 8-channel blocks (isa_policy.h): on AMD family
// 0x19 and 0x1a with AVX-512 (Zen 4, Zen 5) by default, on any AVX-512 CPU with SPRINT_WINOGRAD=1, never with SPRINT_WINOGRAD=0, on CPUs
// without AVX-512, or when ONEDNN_MAX_CPU_ISA is set; and this machine's conv layout follows the decision.
#include <gtest/gtest.h>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/backend/cpu/isa_policy.h"
#include "sprint/ops/conv.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cpu {
namespace {

TEST(IsaPolicy, EightChannelBlocksOnZen4Zen5AndForcedWinogradOnly) {
  const IsaFacts zen4{.amd = true, .family = 0x19, .avx512f = true, .winograd_env = {}};
  EXPECT_NE(avx2_cap_reason(zen4), "");
  IsaFacts zen3 = zen4;
  zen3.avx512f = false;
  EXPECT_EQ(avx2_cap_reason(zen3), "");
  const IsaFacts zen5{.amd = true, .family = 0x1a, .avx512f = true, .winograd_env = {}};
  EXPECT_NE(avx2_cap_reason(zen5), "");
  const IsaFacts intel{.amd = false, .family = 6, .avx512f = true, .winograd_env = {}};
  EXPECT_EQ(avx2_cap_reason(intel), "");
  IsaFacts forced = intel;
  forced.winograd_env = "1";
  EXPECT_NE(avx2_cap_reason(forced), "");
  IsaFacts off = zen4;
  off.winograd_env = "0";
  EXPECT_EQ(avx2_cap_reason(off), "");
  IsaFacts user = zen4;
  user.onednn_env = true;
  EXPECT_EQ(avx2_cap_reason(user), "");
}

TEST(IsaPolicy, ThisMachineFollowsTheDecision) {
  const std::string& cap = apply_isa_policy();
  EXPECT_EQ(cap, avx2_cap_reason(isa_facts()));
  const MemoryFormat f = ops::preferred_activation_format(cpu_context().compute_stream(), DType::kF32);
  const CpuInfo info = cpu_info();
  std::printf("ISA: %s; conv activations: %s\n", info.isa_name.c_str(), memory_format_name(f));
  if (!cap.empty()) {
    EXPECT_EQ(f, MemoryFormat::kChannelsBlocked8);
    EXPECT_NE(info.isa_name.find("8-channel blocks"), std::string::npos) << info.isa_name;
  }
}

}  // namespace
}  // namespace sprint::cpu
