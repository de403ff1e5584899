// cudnn_handle.h (CUDA backend): CudnnHandle, the per-context cuDNN handle (a ContextExtension). A cuDNN
// handle is bound to one stream at a time and is not safe to use from two threads at once, so every use goes
// through a Lease: it holds the extension's mutex and binds the handle to the op's stream (cudnnSetStream) for
// the lease's lifetime. Hold a lease only around cuDNN calls (they queue work and return; nothing blocks on the
// device while it is held, except the algorithm search of cudnn_conv.cpp, which runs once per problem).
// Failing cuDNN calls throw BackendError naming the call (SPRINT_CUDNN_CHECK in runtime/cuda/cuda_check.h).
#pragma once

#include <cudnn.h>

#include <mutex>

#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

class CudnnHandle final : public ContextExtension {
 public:
  explicit CudnnHandle(DeviceContext& context);
  ~CudnnHandle() override;
  CudnnHandle(const CudnnHandle&) = delete;
  CudnnHandle& operator=(const CudnnHandle&) = delete;

  /// Exclusive use of the handle, bound to one stream.
  class Lease {
   public:
    cudnnHandle_t get() const { return handle_; }
    operator cudnnHandle_t() const { return handle_; }  // NOLINT(google-explicit-constructor)

   private:
    friend class CudnnHandle;
    Lease(std::mutex& mutex, cudnnHandle_t handle) : lock_(mutex), handle_(handle) {}
    std::unique_lock<std::mutex> lock_;
    cudnnHandle_t handle_;
  };

  /// Locks the handle and binds it to `stream` (a CUDA stream of this context's device).
  Lease acquire(const Stream& stream);

  /// cuDNN library version the process loaded (cudnnGetVersion(), e.g. 91900).
  static size_t version();

 private:
  int device_index_;
  std::mutex mutex_;
  cudnnHandle_t handle_ = nullptr;
};

}  // namespace sprint::cuda
