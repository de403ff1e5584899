// cpu_info.cpp: host CPU description from /proc/cpuinfo, sched_getaffinity + /sys topology, and oneDNN's
// dnnl_get_effective_cpu_isa and dnnl_version (the only oneDNN calls here; the CLI reaches it through cpu_info()).
#include "sprint/backend/cpu/cpu_info.h"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>
#include <utility>

#include <dnnl.h>
#include <fmt/format.h>

#include "sprint/backend/cpu/cpu_identity.h"
#include "sprint/backend/cpu/isa_policy.h"

namespace sprint::cpu {
namespace {

std::string isa_display_name(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_all: return "baseline x86-64 (no JIT ISA)";
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2 with VNNI (avx2_vnni)";
#if DNNL_VERSION_MAJOR < 3
    case dnnl_cpu_isa_avx512_mic: return "AVX-512 (avx512_mic, Xeon Phi)";
    case dnnl_cpu_isa_avx512_mic_4ops: return "AVX-512 (avx512_mic_4ops, Xeon Phi)";
#endif
    case dnnl_cpu_isa_avx512_core: return "AVX-512 (avx512_core)";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI (avx512_core_vnni)";
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 with VNNI/BF16 (avx512_core_bf16)";
    case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 with VNNI/BF16/AMX (avx512_core_amx)";
  }
  return fmt::format("unknown (oneDNN ISA 0x{:x})", static_cast<unsigned>(isa));
}

// Reads one integer from a sysfs file; false when absent or malformed.
bool read_int(const std::string& path, int& value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> value);
}

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

int available_cores() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) != 0) return hardware_threads();
  std::set<std::pair<int, int>> cores;  // (package, core)
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &mask)) continue;
    const std::string dir = fmt::format("/sys/devices/system/cpu/cpu{}/topology/", cpu);
    int package = 0, core = 0;
    if (!read_int(dir + "physical_package_id", package) || !read_int(dir + "core_id", core))
      return std::max(1, CPU_COUNT(&mask));
    cores.emplace(package, core);
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

CpuInfo cpu_info() {
  CpuInfo info;
  const CpuIdentity id = cpu_identity();
  info.cpu_model = id.model_name;
  info.identity = describe_identity(id);
  const std::string& cap = apply_isa_policy();
  info.isa_name = isa_display_name(dnnl_get_effective_cpu_isa());
  if (!cap.empty()) info.isa_name += "; conv layers on 8-channel blocks: " + cap;
  info.hardware_threads = hardware_threads();
  info.available_cores = available_cores();
  const dnnl_version_t* v = dnnl_version();
  info.onednn_version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  return info;
}

}  // namespace sprint::cpu
