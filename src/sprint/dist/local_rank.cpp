// local_rank.cpp: this process's rank on its machine, from the environment MPI launchers and Slurm set.
#include <cstdlib>
#include <string>

#include "sprint/dist/nccl_process_group.h"

namespace sprint::dist {

int local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MPI_LOCAL_RANK", "PMIX_LOCAL_RANK",
                           "SLURM_LOCALID"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long rank = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && rank >= 0 && rank < (1 << 20)) return static_cast<int>(rank);
  }
  return 0;
}

}  // namespace sprint::dist
