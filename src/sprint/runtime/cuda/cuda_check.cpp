// cuda_check.cpp: out-of-line throw helpers for the CUDA / cuBLAS / cuDNN check macros, and the device and
// capture-mode guards.
#include "sprint/runtime/cuda/cuda_check.h"

#include <cstring>

#include <cublasLt.h>
#include <cudnn.h>

#include "sprint/core/error.h"

namespace sprint::cuda {
namespace detail {
namespace {
const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// Errors after which the CUDA context is corrupted and every later call fails too.
bool is_sticky(cudaError_t status) {
  switch (status) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable: return true;
    default: return false;
  }
}
}  // namespace

void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // reset the per-thread last error (no effect on sticky errors)
  throw BackendError(fmt::format("CUDA error {} ({}) in `{}` at {}:{}{}", cudaGetErrorName(status),
                                 cudaGetErrorString(status), expr, base_name(file), line,
                                 is_sticky(status)
                                     ? "; the CUDA context is now unusable (restart the process; "
                                       "run under compute-sanitizer to locate the fault)"
                                     : ""));
}

void throw_cublas_error(int status, const char* expr, const char* file, int line) {
  const auto s = static_cast<cublasStatus_t>(status);
  throw BackendError(fmt::format("cuBLAS error {} ({}) in `{}` at {}:{}", cublasLtGetStatusName(s),
                                 cublasLtGetStatusString(s), expr, base_name(file), line));
}

void throw_cudnn_error(int status, const char* expr, const char* file, int line) {
  const auto s = static_cast<cudnnStatus_t>(status);
  throw BackendError(fmt::format("cuDNN error {} ({}) in `{}` at {}:{}", status, cudnnGetErrorString(s), expr,
                                 base_name(file), line));
}

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) [[likely]]
    return;
  throw BackendError(fmt::format("CUDA error {} ({}) launching kernel {} at {}:{}{}",
                                 cudaGetErrorName(status), cudaGetErrorString(status), kernel,
                                 base_name(file), line,
                                 is_sticky(status) ? "; the CUDA context is now unusable" : ""));
}
}  // namespace detail

DeviceGuard::DeviceGuard(int index) {
  SPRINT_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != index) {
    SPRINT_CUDA_CHECK(cudaSetDevice(index));
    changed_ = true;
  }
}

DeviceGuard::~DeviceGuard() {
  if (changed_) (void)cudaSetDevice(previous_);
}

RelaxedCaptureModeGuard::RelaxedCaptureModeGuard() {
  SPRINT_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode_));
}

RelaxedCaptureModeGuard::~RelaxedCaptureModeGuard() {
  (void)cudaThreadExchangeStreamCaptureMode(&mode_);
}

bool event_completed(cudaEvent_t event) {
  const cudaError_t status = cudaEventQuery(event);
  if (status == cudaSuccess) return true;
  if (status == cudaErrorNotReady) {
    // "Not ready" is not a failure; make sure it does not linger as the thread's last error.
    if (cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
    return false;
  }
  SPRINT_CUDA_CHECK(status);
  return false;
}

}  // namespace sprint::cuda
