// bench_machine.h: the machine fields every bench program's JSON carries, so that each figure names the CPU
// (model, family/model/stepping, microarchitecture, SIMD) and the ISA oneDNN dispatched to.
#pragma once

#include <nlohmann/json.hpp>

#include "sprint/backend/cpu/cpu_info.h"

namespace sprint::bench {

inline void add_machine_fields(nlohmann::ordered_json& out) {
  const cpu::CpuInfo info = cpu::cpu_info();
  out["cpu"] = info.description();
  out["cpu_isa"] = info.isa_name;
}

}  // namespace sprint::bench
