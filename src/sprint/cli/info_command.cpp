// info_command.cpp: `sprint info`: build configuration, the host CPU (model, oneDNN ISA, threads and cores, the
// --threads auto rule) and CUDA devices.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sprint/backend/cpu/cpu_info.h"
#include "sprint/cli/commands.h"
#include "sprint/config.h"
#include "sprint/dist/nccl_process_group.h"
#include "sprint/dist/process_group.h"
#include "sprint/nn/models.h"
#include "sprint/ops/conv.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cli {
namespace {

// "a, b, c": the catalog models for which resolve_threads("auto", model, probe_cores) == threads.
std::string models_with_auto_threads(int threads, int probe_cores) {
  std::string names;
  for (const auto& m : nn::model_catalog()) {
    if (resolve_threads("auto", m.name, probe_cores) != threads) continue;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  return names;
}

void print_cpu(const cpu::CpuInfo& cpu) {
  std::printf("  CPU: %s\n", cpu.description().c_str());
  std::printf("  CPU ISA used by oneDNN: %s\n", cpu.isa_name.c_str());
  const char* omp = std::getenv("OMP_NUM_THREADS");
  const std::string omp_text = omp ? std::string("OMP_NUM_THREADS=") + omp + " (overridden by --threads)"
                                   : std::string("OMP_NUM_THREADS not set");
  std::printf("  CPU threads: %d hardware threads, %d cores available to this process; %s\n", cpu.hardware_threads,
              cpu.available_cores, omp_text.c_str());
  // The rule comes from resolve_threads itself, probed with >= 2 cores so that the two groups stay apart.
  const int probe = std::max(cpu.available_cores, 2);
  std::printf("  sprint train --threads auto (the default): %d (the available cores) for %s; 1 for %s\n",
              cpu.available_cores, models_with_auto_threads(probe, probe).c_str(),
              models_with_auto_threads(1, probe).c_str());
}

}  // namespace

int run_info() {
  std::printf("sprint %s\n", SPRINT_VERSION);
  std::printf("  CUDA backend: %s\n",
              SPRINT_HAS_CUDA ? "built" : "not built (SPRINT_CUDA=OFF, or no CUDA compiler or cuDNN was found)");
  const std::string nccl = dist::nccl_version();
  std::printf("  NCCL:         %s\n", dist::nccl_built()
                                          ? ("NCCL " + nccl + ", sprint train --distributed --device cuda").c_str()
                                          : "not built (needs the CUDA backend and NCCL found when configuring)");
  std::printf("  MPI:          %s\n", dist::mpi_built() ? "built, sprint train --distributed under mpirun"
                                                       : "not built (apt-get install libopenmpi-dev openmpi-bin)");
  print_cpu(cpu::cpu_info());
  std::printf("  CPU libraries: oneDNN (conv, norm, average pooling, f32 GEMM), OpenBLAS (f32 GEMM on request)\n");
  const MemoryFormat conv_layout = ops::preferred_activation_format(cpu_context().compute_stream(), DType::kF32);
  std::printf("  CPU conv-model activations: %s (--memory-format auto)\n", memory_format_name(conv_layout));
  const int n = cuda_device_count();
  if (n == 0) {
    std::printf("  CUDA devices: none (%s)\n", cuda_unavailable_reason().c_str());
  } else {
    std::printf("  CUDA devices: %d\n", n);
  }
  return 0;
}

}  // namespace sprint::cli
