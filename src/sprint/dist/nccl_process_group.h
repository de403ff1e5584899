// nccl_process_group.h: the NCCL backend of ProcessGroup, for data parallelism over GPUs (one GPU per rank).
// Contiguous tensors on the group's GPU are reduced there by NCCL on a communication stream of the group's own,
// ordered after the caller's stream by an event and before the caller's later work by another (no host
// synchronisation); host tensors go to the bootstrap group (MPI). A watchdog thread watches every collective in
// flight: one still running after the timeout (a rank crashed, was killed or hangs) or an NCCL error aborts the
// communicator, and the next collective on this rank throws DistTimeout naming the rank and the collective.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sprint/dist/process_group.h"

namespace sprint {
class DeviceContext;
}

namespace sprint::dist {

/// True when this build has the NCCL backend (CUDA and NCCL found).
bool nccl_built();
/// The NCCL library's version ("2.28.9"), or "" without the backend.
std::string nccl_version();
/// This process's rank among the job's processes on its machine, from the launcher's environment
/// (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, SLURM_LOCALID, PMIX's local rank), or 0.
int local_rank();
/// How many of the job's processes run on this machine, from the launcher's environment
/// (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS, SLURM_NTASKS_PER_NODE), or 1.
int local_size();
/// The NCCL group of the ranks of `bootstrap` (which hands rank 0's communicator name to the others and carries
/// host tensors and barriers), each on its GPU `gpu`. Unsupported without the backend.
std::unique_ptr<ProcessGroup> make_nccl_process_group(std::unique_ptr<ProcessGroup> bootstrap, DeviceContext& gpu,
                                                      std::chrono::milliseconds timeout);

}  // namespace sprint::dist
