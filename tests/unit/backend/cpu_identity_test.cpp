// cpu_identity_test.cpp: /proc/cpuinfo parsing, the microarchitecture table and the SIMD summary behind
// `sprint info`'s CPU line (cpu_identity.h), on cpuinfo texts of known machines and on malformed ones.
#include <gtest/gtest.h>

#include "sprint/backend/cpu/cpu_identity.h"
#include "sprint/backend/cpu/cpu_info.h"

namespace sprint::cpu {
namespace {

// The first lines of a 2-vCPU Zen 4 (Genoa) guest's /proc/cpuinfo, flags shortened; the second CPU's block
// differs on purpose to show that only the first is read.
constexpr const char* kGenoa =
    "processor\t: 0\n"
    "vendor_id\t: AuthenticAMD\n"
    "cpu family\t: 25\n"
    "model\t\t: 17\n"
    "model name\t: AMD EPYC 9454 48-Core Processor\n"
    "stepping\t: 1\n"
    "flags\t\t: fpu sse2 sse4_2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni\n"
    "\n"
    "processor\t: 1\n"
    "vendor_id\t: GenuineIntel\n"
    "cpu family\t: 6\n"
    "flags\t\t: fpu\n";

TEST(CpuIdentity, ParsesTheFirstProcessorBlock) {
  const CpuIdentity id = parse_cpuinfo(kGenoa);
  EXPECT_EQ(id.vendor, "AuthenticAMD");
  EXPECT_EQ(id.model_name, "AMD EPYC 9454 48-Core Processor");
  EXPECT_EQ(id.family, 25);
  EXPECT_EQ(id.model, 17);
  EXPECT_EQ(id.stepping, 1);
  EXPECT_TRUE(id.has("avx512_bf16"));
  EXPECT_FALSE(id.has("amx_tile"));
  EXPECT_EQ(microarchitecture(id), "Zen 4");
  EXPECT_EQ(simd_summary(id), "AVX2, FMA, AVX-512 F/DQ/BW/VL/VNNI/BF16");
  EXPECT_EQ(describe_identity(id),
            "AuthenticAMD family 25 model 17 stepping 1 (Zen 4); AVX2, FMA, AVX-512 F/DQ/BW/VL/VNNI/BF16");
}

CpuIdentity make(const char* vendor, int family, int model, int stepping, std::set<std::string> flags) {
  CpuIdentity id;
  id.vendor = vendor;
  id.family = family;
  id.model = model;
  id.stepping = stepping;
  id.flags = std::move(flags);
  return id;
}

TEST(CpuIdentity, NamesTheMicroarchitecturesOfTheLastDecade) {
  EXPECT_EQ(microarchitecture(make("AuthenticAMD", 25, 1, 1, {"avx2", "fma"})), "Zen 3");  // Milan
  EXPECT_EQ(microarchitecture(make("AuthenticAMD", 25, 0x11, 1, {"avx2", "avx512f"})), "Zen 4");
  EXPECT_EQ(microarchitecture(make("AuthenticAMD", 26, 2, 0, {"avx2", "avx512f"})), "Zen 5");
  EXPECT_EQ(microarchitecture(make("AuthenticAMD", 23, 0x31, 0, {"avx2"})), "Zen 2");  // Rome
  EXPECT_EQ(microarchitecture(make("AuthenticAMD", 23, 0x01, 2, {"avx2"})), "Zen / Zen+");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x55, 4, {})), "Skylake-SP");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x55, 7, {})), "Cascade Lake");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x55, 11, {})), "Cooper Lake");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x6a, 6, {})), "Ice Lake-SP");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x8f, 8, {})), "Sapphire Rapids");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x3f, 2, {})), "Haswell");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0x01, 0, {})), "");  // not in the table
  EXPECT_EQ(microarchitecture(make("HygonGenuine", 24, 0, 0, {})), "");
  // A guest whose hypervisor reports Rocket Lake's model (0xa7) beside AMX: the table's name would be wrong.
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0xa7, 1, {"avx512f"})), "Rocket Lake");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0xa7, 1, {"avx512f", "amx_tile", "amx_bf16"})),
            "Sapphire Rapids or later; the reported model is not the core's");
  EXPECT_EQ(microarchitecture(make("GenuineIntel", 6, 0xad, 1, {"avx512f", "amx_tile"})), "Granite Rapids");
}

TEST(CpuIdentity, SummarisesTheSimdExtensions) {
  EXPECT_EQ(
      simd_summary(make("GenuineIntel", 6, 0x8f, 8,
                        {"avx", "avx2", "fma", "avx_vnni", "avx512f", "avx512dq", "avx512bw", "avx512vl",
                         "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"})),
      "AVX2, FMA, AVX-VNNI, AVX-512 F/DQ/BW/VL/VNNI/BF16/FP16, AMX BF16/INT8");
  EXPECT_EQ(simd_summary(make("GenuineIntel", 6, 0x3f, 2, {"sse4_2", "avx"})), "AVX");
  EXPECT_EQ(simd_summary(make("", -1, -1, -1, {})), "SSE2");
}

TEST(CpuIdentity, MalformedTextKeepsTheDefaults) {
  for (const char* text :
       {"", "\n\n:", "cpu family\t: twenty\nmodel : 0x11\nstepping:\n", "flags", "::::\nmodel name:\n"}) {
    const CpuIdentity id = parse_cpuinfo(text);
    EXPECT_EQ(id.family, -1) << text;
    EXPECT_EQ(id.model, -1) << text;
    EXPECT_EQ(id.stepping, -1) << text;
    EXPECT_EQ(id.model_name, "unknown") << text;
    EXPECT_EQ(describe_identity(id), "unknown vendor; SSE2") << text;
  }
}

TEST(CpuIdentity, ThisMachineIsDescribed) {
  const CpuInfo info = cpu_info();
  EXPECT_EQ(info.identity, describe_identity(cpu_identity()));
  EXPECT_EQ(info.cpu_model, cpu_identity().model_name);
  std::printf("CPU: %s\n", info.description().c_str());
}

}  // namespace
}  // namespace sprint::cpu
