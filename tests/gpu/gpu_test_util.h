// gpu_test_util.h: the fixture every GPU test uses. Without a usable CUDA device (no driver, no GPU, a build
// without CUDA) each test is skipped with a visible "[  SKIPPED ] ... no CUDA device: <reason>" line instead
// of failing, so the suite passes on CPU-only CI and runs for real on a GPU machine.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/cuda/cuda_context.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::testing {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
  }

  /// The process-wide context of cuda:0 (created on first use).
  cuda::CudaContext& context() { return static_cast<cuda::CudaContext&>(device_context(cuda_device(0))); }
  Stream stream() { return context().compute_stream(); }

  /// Device copy (on stream()) of a host tensor.
  Tensor to_device(const Tensor& host) { return ops::to_stream_device(stream(), host); }
  /// Host values of a device tensor, converted to T (synchronises stream()).
  template <class T>
  std::vector<T> values(const Tensor& t) {
    return ops::to_host(stream(), t).to_vector<T>();
  }
};

}  // namespace sprint::testing
