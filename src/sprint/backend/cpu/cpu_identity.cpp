// cpu_identity.cpp: /proc/cpuinfo parsing and the microarchitecture table of cpu_identity.h. The table holds
// the x86 server and desktop families of the last decade (AMD family 0x17-0x1a, Intel family 6); the model
// numbers are the vendors' published family/model/stepping codes.
#include "sprint/backend/cpu/cpu_identity.h"

#include <charconv>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace sprint::cpu {
namespace {

std::string_view trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r") + 1 - first);
}

int parse_int(std::string_view s) {
  int value = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() ? value : -1;
}

std::string intel_family6(int model, int stepping) {
  switch (model) {
    case 0x3c:
    case 0x3f:
    case 0x45:
    case 0x46:
      return "Haswell";
    case 0x3d:
    case 0x47:
    case 0x4f:
    case 0x56:
      return "Broadwell";
    case 0x4e:
    case 0x5e:
      return "Skylake";
    case 0x55:
      if (stepping >= 10) return "Cooper Lake";
      if (stepping >= 5) return "Cascade Lake";
      return "Skylake-SP";
    case 0x57:
      return "Knights Landing";
    case 0x85:
      return "Knights Mill";
    case 0x66:
      return "Cannon Lake";
    case 0x8e:
    case 0x9e:
      return "Kaby Lake / Coffee Lake";
    case 0xa5:
    case 0xa6:
      return "Comet Lake";
    case 0x7d:
    case 0x7e:
      return "Ice Lake";
    case 0x6a:
    case 0x6c:
      return "Ice Lake-SP";
    case 0x8c:
    case 0x8d:
      return "Tiger Lake";
    case 0xa7:
      return "Rocket Lake";
    case 0x97:
    case 0x9a:
      return "Alder Lake";
    case 0xb7:
    case 0xba:
    case 0xbf:
      return "Raptor Lake";
    case 0xaa:
    case 0xac:
      return "Meteor Lake";
    case 0xbd:
      return "Lunar Lake";
    case 0xc5:
    case 0xc6:
      return "Arrow Lake";
    case 0x8f:
      return "Sapphire Rapids";
    case 0xcf:
      return "Emerald Rapids";
    case 0xad:
    case 0xae:
      return "Granite Rapids";
    case 0xaf:
      return "Sierra Forest";
    default:
      return "";
  }
}

}  // namespace

CpuIdentity parse_cpuinfo(std::string_view text) {
  CpuIdentity id;
  id.model_name = "unknown";
  bool in_first = false;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "processor") {
      if (in_first) break;  // the second CPU's block starts: the first one is complete
      in_first = true;
    } else if (key == "vendor_id") {
      id.vendor = std::string(value);
    } else if (key == "model name") {
      if (!value.empty()) id.model_name = std::string(value);
    } else if (key == "cpu family") {
      id.family = parse_int(value);
    } else if (key == "model") {
      id.model = parse_int(value);
    } else if (key == "stepping") {
      id.stepping = parse_int(value);
    } else if (key == "flags") {
      std::istringstream words{std::string(value)};
      std::string w;
      while (words >> w) id.flags.insert(w);
    }
  }
  return id;
}

CpuIdentity cpu_identity() {
  std::ifstream in("/proc/cpuinfo");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_cpuinfo(text.str());
}

std::string microarchitecture(const CpuIdentity& id) {
  if (id.amd()) {
    switch (id.family) {
      case 0x17:
        return id.model < 0x30 ? "Zen / Zen+" : "Zen 2";
      // Family 0x19 holds Zen 3 (Milan, Vermeer, Cezanne, Rembrandt) and Zen 4 (Genoa, Bergamo, Raphael,
      // Phoenix); every Zen 4 has AVX-512 and no Zen 3 does.
      case 0x19:
        return id.has("avx512f") ? "Zen 4" : "Zen 3";
      case 0x1a:
        return "Zen 5";
      default:
        return "";
    }
  }
  if (id.intel() && id.family == 6) {
    const std::string name = intel_family6(id.model, id.stepping);
    // AMX exists on Sapphire Rapids and later server cores only: a model number from the table of older or
    // client parts beside AMX was set by a hypervisor, and naming it would describe another machine.
    const bool amx_part = name == "Sapphire Rapids" || name == "Emerald Rapids" || name == "Granite Rapids";
    if (id.has("amx_tile") && !amx_part) return "Sapphire Rapids or later; the reported model is not the core's";
    return name;
  }
  return "";
}

std::string simd_summary(const CpuIdentity& id) {
  std::vector<std::string> parts;
  if (id.has("avx2"))
    parts.emplace_back("AVX2");
  else if (id.has("avx"))
    parts.emplace_back("AVX");
  else if (id.has("sse4_2"))
    parts.emplace_back("SSE4.2");
  else
    parts.emplace_back("SSE2");
  if (id.has("fma")) parts.emplace_back("FMA");
  if (id.has("avx_vnni")) parts.emplace_back("AVX-VNNI");
  if (id.has("avx512f")) {
    std::string avx512 = "AVX-512 F";
    const std::initializer_list<std::pair<const char*, const char*>> subsets = {
        {"avx512dq", "DQ"},      {"avx512bw", "BW"},      {"avx512vl", "VL"},
        {"avx512_vnni", "VNNI"}, {"avx512_bf16", "BF16"}, {"avx512_fp16", "FP16"}};
    for (const auto& [flag, name] : subsets)
      if (id.has(flag)) avx512 += std::string("/") + name;
    parts.push_back(avx512);
  }
  if (id.has("amx_tile")) {
    std::string amx = "AMX";
    if (id.has("amx_bf16")) amx += " BF16";
    if (id.has("amx_int8")) amx += id.has("amx_bf16") ? "/INT8" : " INT8";
    parts.push_back(amx);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string describe_identity(const CpuIdentity& id) {
  std::string text = id.vendor.empty() ? std::string("unknown vendor") : id.vendor;
  if (id.family >= 0) text += fmt::format(" family {}", id.family);
  if (id.model >= 0) text += fmt::format(" model {}", id.model);
  if (id.stepping >= 0) text += fmt::format(" stepping {}", id.stepping);
  const std::string arch = microarchitecture(id);
  if (!arch.empty()) text += " (" + arch + ")";
  return text + "; " + simd_summary(id);
}

}  // namespace sprint::cpu
