// cudnn_handle.cpp: the per-context cuDNN handle.
#include "sprint/backend/cuda/cudnn_handle.h"

#include "sprint/backend/cuda/common.h"

namespace sprint::cuda {

CudnnHandle::CudnnHandle(DeviceContext& context) : device_index_(context.device().index) {
  SPRINT_CHECK(context.device().is_cuda(), "CudnnHandle needs a CUDA context");
  DeviceGuard device(device_index_);
  SPRINT_CUDNN_CHECK(cudnnCreate(&handle_));
}

CudnnHandle::~CudnnHandle() {
  if (handle_ != nullptr) (void)cudnnDestroy(handle_);
}

CudnnHandle::Lease CudnnHandle::acquire(const Stream& stream) {
  const cudaStream_t native = stream_of(stream);
  Lease lease(mutex_, handle_);
  SPRINT_CUDNN_CHECK(cudnnSetStream(handle_, native));
  return lease;
}

size_t CudnnHandle::version() { return cudnnGetVersion(); }

}  // namespace sprint::cuda
