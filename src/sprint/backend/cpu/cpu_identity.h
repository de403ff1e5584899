// cpu_identity.h: which x86 CPU this is, read from /proc/cpuinfo: vendor, family, model and stepping, the
// microarchitecture they name (Zen 3, Zen 4, Sapphire Rapids, ...) and the SIMD extensions the kernels can
// use. `sprint info` and the bench reports print it, so that every CPU figure names its machine; the ISA
// policy (isa_policy.h) decides from the same facts.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace sprint::cpu {

struct CpuIdentity {
  std::string vendor;           ///< vendor_id: "AuthenticAMD", "GenuineIntel", ... ("" when absent)
  std::string model_name;       ///< "model name" ("unknown" when absent)
  int family = -1;              ///< "cpu family" (-1 when absent)
  int model = -1;               ///< "model" (-1 when absent)
  int stepping = -1;            ///< "stepping" (-1 when absent)
  std::set<std::string> flags;  ///< the "flags" words of the first CPU

  bool amd() const { return vendor == "AuthenticAMD"; }
  bool intel() const { return vendor == "GenuineIntel"; }
  bool has(std::string_view flag) const { return flags.contains(std::string(flag)); }
};

/// Parses the first processor block of a /proc/cpuinfo text; fields it lacks keep their defaults. Never
/// throws on malformed text (numbers that do not parse stay -1).
CpuIdentity parse_cpuinfo(std::string_view text);

/// This machine's identity (/proc/cpuinfo read once per call).
CpuIdentity cpu_identity();

/// The microarchitecture family/model name: "Zen 4", "Ice Lake-SP", ...; "" for CPUs the table does not know.
std::string microarchitecture(const CpuIdentity& id);

/// The SIMD extensions relevant to the kernels, e.g. "AVX2, FMA, AVX-512 F/DQ/BW/VL/VNNI/BF16"; "SSE2" at
/// least.
std::string simd_summary(const CpuIdentity& id);

/// One line: "AuthenticAMD family 25 model 17 stepping 1 (Zen 4); AVX2, FMA, AVX-512 F/DQ/BW/VL/VNNI/BF16".
std::string describe_identity(const CpuIdentity& id);

}  // namespace sprint::cpu
