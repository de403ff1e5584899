// info_command.cpp: `sprint info`: build configuration, CPU and CUDA devices.
#include <cstdio>
#include <thread>

#include "sprint/cli/commands.h"
#include "sprint/config.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cli {

int run_info() {
  std::printf("sprint %s\n", SPRINT_VERSION);
  std::printf("  CUDA backend: %s\n", SPRINT_HAS_CUDA ? "built" : "not built (SPRINT_CUDA=OFF)");
  std::printf("  NCCL:         %s\n", SPRINT_HAS_NCCL ? "built" : "not built");
  std::printf("  MPI:          %s\n", SPRINT_HAS_MPI ? "found" : "not found");
  std::printf("  CPU: %u hardware threads; compute uses --threads (default 1)\n", std::thread::hardware_concurrency());
  std::printf("  CPU libraries: oneDNN (conv, norm, pooling, f32 GEMM), OpenBLAS (f32 GEMM on request)\n");
  const int n = cuda_device_count();
  if (n == 0) {
    std::printf("  CUDA devices: none (%s)\n", cuda_unavailable_reason().c_str());
  } else {
    std::printf("  CUDA devices: %d\n", n);
  }
  return 0;
}

}  // namespace sprint::cli
