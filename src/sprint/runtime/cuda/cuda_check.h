// cuda_check.h: SPRINT_CUDA_CHECK / SPRINT_CUBLAS_CHECK / SPRINT_CUDNN_CHECK, which name the failing call and
// throw sprint::BackendError, plus two small RAII guards every CUDA-side entry point uses (current device,
// relaxed stream-capture mode). Included only by CUDA-side .cpp/.cu files (it includes the CUDA runtime API).
#pragma once

#include <cuda_runtime_api.h>

namespace sprint::cuda::detail {

/// Throws BackendError "CUDA error <name> (<description>) in `<expr>` at file:line". Clears the (non-sticky)
/// last-error state first so that a later launch check does not report this failure again.
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line);
/// `status` is a cublasStatus_t (0 == CUBLAS_STATUS_SUCCESS).
[[noreturn]] void throw_cublas_error(int status, const char* expr, const char* file, int line);
/// `status` is a cudnnStatus_t (0 == CUDNN_STATUS_SUCCESS).
[[noreturn]] void throw_cudnn_error(int status, const char* expr, const char* file, int line);
/// Launch check: throws naming the kernel when cudaGetLastError() reports a failure.
void check_launch(const char* kernel, const char* file, int line);

}  // namespace sprint::cuda::detail

/// Runs a CUDA runtime call and throws sprint::BackendError naming it when it does not return cudaSuccess.
#define SPRINT_CUDA_CHECK(expr)                                                                 \
  do {                                                                                          \
    const cudaError_t sprint_cuda_status_ = (expr);                                             \
    if (sprint_cuda_status_ != cudaSuccess)                                                     \
      ::sprint::cuda::detail::throw_cuda_error(sprint_cuda_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Same for cuBLAS / cuBLASLt calls (status 0 is success).
#define SPRINT_CUBLAS_CHECK(expr)                                                                   \
  do {                                                                                              \
    const int sprint_cublas_status_ = static_cast<int>(expr);                                       \
    if (sprint_cublas_status_ != 0)                                                                 \
      ::sprint::cuda::detail::throw_cublas_error(sprint_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Same for cuDNN calls (status 0 is success).
#define SPRINT_CUDNN_CHECK(expr)                                                                  \
  do {                                                                                            \
    const int sprint_cudnn_status_ = static_cast<int>(expr);                                      \
    if (sprint_cudnn_status_ != 0)                                                                \
      ::sprint::cuda::detail::throw_cudnn_error(sprint_cudnn_status_, #expr, __FILE__, __LINE__); \
  } while (0)

namespace sprint::cuda {
/// cudaEventQuery as a bool: true once the event's work has finished, false while it runs ("not ready" is no
/// failure and is not left as the thread's last error); other errors throw BackendError.
bool event_completed(cudaEvent_t event);
}  // namespace sprint::cuda

/// After a kernel launch (`kernel<<<...>>>(...)`): throws if the launch failed (bad configuration, no image
/// for this GPU, sticky error from earlier work).
#define SPRINT_CUDA_CHECK_LAUNCH(kernel_name) \
  ::sprint::cuda::detail::check_launch(kernel_name, __FILE__, __LINE__)

namespace sprint::cuda {

/// Makes `index` the calling thread's current device for the guard's lifetime (restores the previous one).
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  bool changed_ = false;
};

/// Switches the calling thread to cudaStreamCaptureModeRelaxed for the guard's lifetime, so that a cudaMalloc
/// / cudaHostAlloc made while this thread captures a CUDA graph does not invalidate the capture. The memory
/// is not part of the graph; its address is (the tensor must outlive the graph).
class RelaxedCaptureModeGuard {
 public:
  RelaxedCaptureModeGuard();
  ~RelaxedCaptureModeGuard();
  RelaxedCaptureModeGuard(const RelaxedCaptureModeGuard&) = delete;
  RelaxedCaptureModeGuard& operator=(const RelaxedCaptureModeGuard&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

}  // namespace sprint::cuda
