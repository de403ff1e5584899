// cpu_info.h: what the host CPU offers the CPU backend: its model name and identity (cpu_identity.h), the
// instruction set oneDNN's JIT kernels dispatch to, and how many hardware threads and physical cores this process
// may use. `sprint info` prints it; `sprint train --threads auto` sizes the compute thread count from
// available_cores.
#pragma once

#include <string>

namespace sprint::cpu {

struct CpuInfo {
  std::string cpu_model;     ///< /proc/cpuinfo "model name" of the first CPU, or "unknown"
  std::string identity;      ///< vendor, family/model/stepping, microarchitecture, SIMD (describe_identity)
  std::string isa_name;      ///< oneDNN's effective ISA, readable: "AVX2", "AVX-512 (avx512_core)", ...
  int hardware_threads = 1;  ///< logical CPUs of the machine (std::thread::hardware_concurrency), >= 1
  int available_cores = 1;   ///< see available_cores(), >= 1
  std::string onednn_version;  ///< "2.6.3" (dnnl_version)

  /// "AMD EPYC (AuthenticAMD family 25 model 17 stepping 1 (Zen 4); AVX2, ...)": how every report names the CPU.
  std::string description() const { return cpu_model + " (" + identity + ")"; }
};

/// Reads the description above (a few small files; not for hot paths).
CpuInfo cpu_info();

/// Physical cores among the CPUs this process may run on (sched_getaffinity): SMT siblings that share a core
/// (same physical_package_id and core_id in /sys/devices/system/cpu/cpuN/topology) count once. Falls back to the
/// affinity mask's CPU count when the topology is unreadable, and to hardware_concurrency without a mask. >= 1.
int available_cores();

}  // namespace sprint::cpu
