// context_extension_test.cpp: lifetime of per-context extensions on a CUDA context: created once on first
// use, shared afterwards, destroyed with the context BEFORE its allocator and streams (an extension may hand
// device memory back in its destructor), device properties and context teardown with a live cuBLASLt handle.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gpu/gpu_test_util.h"
#include "sprint/backend/cuda/cublaslt_gemm.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/linear.h"
#include "sprint/runtime/cuda/cuda_runtime_api.h"

namespace sprint {
namespace {

std::atomic<int> g_constructed{0};
std::atomic<int> g_destroyed{0};

// Holds device memory from its context's allocator for its whole life.
class DeviceBufferExtension final : public ContextExtension {
 public:
  explicit DeviceBufferExtension(DeviceContext& context)
      : context_(context), ptr_(context.allocator().allocate(kBytes)) {
    ++g_constructed;
  }
  ~DeviceBufferExtension() override {
    context_.allocator().deallocate(ptr_, kBytes);
    ++g_destroyed;
  }
  void* ptr() const { return ptr_; }
  static constexpr size_t kBytes = 1 << 20;

 private:
  DeviceContext& context_;
  void* ptr_;
};

class ContextExtensionTest : public testing::CudaTest {};

TEST_F(ContextExtensionTest, CreatedOnceAndDestroyedBeforeTheAllocator) {
  g_constructed = 0;
  g_destroyed = 0;
  {
    std::unique_ptr<DeviceContext> ctx = cuda::make_context(0);
    EXPECT_EQ(g_constructed.load(), 0);  // lazy
    DeviceBufferExtension& a = ctx->extension<DeviceBufferExtension>();
    DeviceBufferExtension& b = ctx->extension<DeviceBufferExtension>();
    EXPECT_EQ(&a, &b);
    EXPECT_EQ(g_constructed.load(), 1);
    EXPECT_GE(ctx->allocator().stats().allocated_bytes, static_cast<int64_t>(DeviceBufferExtension::kBytes));
    // The memory is usable on the context's streams.
    Tensor view = Tensor::wrap(a.ptr(), {256}, DType::kF32, ctx->device());
    ops::fill(ctx->compute_stream(), view, 7.0);
    ctx->compute_stream().synchronize();
  }  // ~CudaContext: extensions first (deallocating into a still-alive allocator), then memory and streams
  EXPECT_EQ(g_destroyed.load(), 1);
}

TEST_F(ContextExtensionTest, ConcurrentFirstUseCreatesOneInstance) {
  g_constructed = 0;
  std::unique_ptr<DeviceContext> ctx = cuda::make_context(0);
  std::vector<std::thread> threads;
  std::vector<DeviceBufferExtension*> seen(8, nullptr);
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] { seen[static_cast<size_t>(t)] = &ctx->extension<DeviceBufferExtension>(); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(g_constructed.load(), 1);
  for (auto* p : seen) EXPECT_EQ(p, seen[0]);
}

TEST_F(ContextExtensionTest, ContextWithCublasLtHandleTearsDownCleanly) {
  std::unique_ptr<DeviceContext> ctx = cuda::make_context(0);
  const Stream s = ctx->compute_stream();
  Tensor x = ops::full(s, {4, 3}, DType::kF32, 1.0);
  Tensor w = ops::full(s, {2, 3}, DType::kF32, 2.0);
  Tensor b = ops::full(s, {2}, DType::kF32, 0.5);
  Tensor y = Tensor::empty({4, 2}, DType::kF32, ctx->allocator());
  ops::linear_forward(s, {.x = x, .w = w, .b = b, .y = y});
  const std::vector<float> v = ops::to_host(s, y).to_vector<float>();
  for (float e : v) EXPECT_EQ(e, 6.5f);
  auto& gemm = ctx->extension<cuda::CublasLtGemm>();
  EXPECT_EQ(gemm.n_cache_misses(), 1);
  ops::linear_forward(s, {.x = x, .w = w, .b = b, .y = y});
  EXPECT_EQ(gemm.n_cache_misses(), 1);  // steady state: no heuristic query
  EXPECT_EQ(gemm.n_cache_hits(), 1);
}  // cuBLASLt handle and its workspace released before the allocator and streams

TEST_F(ContextExtensionTest, DevicePropertiesDescribeTheGpu) {
  const cuda::DeviceProperties p = cuda::device_properties(0);
  EXPECT_FALSE(p.name.empty());
  EXPECT_GT(p.n_sms, 0);
  EXPECT_GT(p.total_memory_bytes, 0);
  EXPECT_GE(p.compute_major, 7);
  EXPECT_GT(cuda::driver_version(), 0);
  EXPECT_EQ(context().properties().name, p.name);
  std::printf("cuda:0 = %s, sm_%d%d, %d SMs, %s, driver %d, runtime %d\n", p.name.c_str(), p.compute_major,
              p.compute_minor, p.n_sms, format_bytes(p.total_memory_bytes).c_str(), cuda::driver_version(),
              cuda::runtime_version());
  EXPECT_THROW((void)cuda::device_properties(cuda::device_count()), InvalidArgument);
}

}  // namespace
}  // namespace sprint
