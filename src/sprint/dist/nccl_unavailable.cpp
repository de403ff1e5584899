// nccl_unavailable.cpp: the NCCL backend's entry points in a build without it (no CUDA or no NCCL found).
#include "sprint/dist/nccl_process_group.h"

namespace sprint::dist {

bool nccl_built() { return false; }

std::string nccl_version() { return ""; }

std::unique_ptr<ProcessGroup> make_nccl_process_group(std::unique_ptr<ProcessGroup>, DeviceContext&,
                                                      std::chrono::milliseconds) {
  SPRINT_THROW(Unsupported, "this sprint was built without NCCL (it needs the CUDA toolkit with NCCL, found "
                            "when configuring): use --dist-backend mpi");
}

}  // namespace sprint::dist
