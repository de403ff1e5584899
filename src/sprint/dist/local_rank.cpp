// local_rank.cpp: this process's rank on its machine and how many share it, from the environment MPI launchers and Slurm set.
#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "sprint/dist/nccl_process_group.h"

namespace sprint::dist {

namespace {
// The first of `names` set to a whole number in [0, 2^20), or `fallback`.
int from_environment(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && n >= 0 && n < (1 << 20)) return static_cast<int>(n);
  }
  return fallback;
}
}  // namespace

int local_rank() {
  return from_environment(
      {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MPI_LOCAL_RANK", "PMIX_LOCAL_RANK", "SLURM_LOCALID"}, 0);
}

int local_size() {
  return std::max(1, from_environment({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"}, 1));
}

}  // namespace sprint::dist
