// nvtx.h: NvtxRange, a scoped NVTX range (header-only NVTX3 from the CUDA toolkit) so that Nsight Systems
// shows sprint's op names on the CPU timeline. Costs a few nanoseconds when no profiler is attached.
#pragma once

#include <nvtx3/nvToolsExt.h>

namespace sprint::cuda {

class NvtxRange {
 public:
  /// `name` must outlive the range (use string literals).
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace sprint::cuda
