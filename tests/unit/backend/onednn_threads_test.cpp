// onednn_threads_test.cpp: oneDNN primitives that sprint caches run on threads other than the one that created
// them (a pipeline's stage threads, started anew every epoch, run primitives the balancing pass or an earlier
// epoch created). oneDNN's default scratchpad is a per-thread buffer sized when a primitive is created, so such a
// run wrote past the running thread's buffer (VGG16's 2x2-plane convolutions, im2col GEMM kernels, crashed);
// sprint passes each primitive a scratchpad of the running thread's own. The results must equal the creating
// thread's bit for bit.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sprint/backend/cpu/onednn_ops.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::cpu {
namespace {

struct Shape4 {
  int64_t n, c, k, h, w;
};

// Forward, backward-data and backward-weight of a 3x3 convolution (pad 1) on NCHW f32 tensors, through the
// oneDNN entry points alone; every output in one vector.
std::vector<float> run_convolution_passes(const Stream& s, const Shape4& c, const Tensor& x, const Tensor& w,
                                          const Tensor& dy) {
  Allocator& alloc = cpu_context().allocator();
  const Conv2dParams params{.stride = 1, .padding = 1};
  Tensor y = Tensor::empty({c.n, c.k, c.h, c.w}, DType::kF32, alloc);
  Tensor dx = Tensor::empty(x.shape(), DType::kF32, alloc);
  Tensor dw = Tensor::empty(w.shape(), DType::kF32, alloc);
  Tensor db = Tensor::empty({c.k}, DType::kF32, alloc);
  const Tensor none;
  EXPECT_TRUE(onednn::conv2d_forward(s, {.x = x, .w = w, .b = none, .y = y, .params = params}));
  EXPECT_TRUE(onednn::conv2d_backward_data(s, {.dy = dy, .w = w, .dx = dx, .params = params}));
  EXPECT_TRUE(onednn::conv2d_backward_weight(s, {.dy = dy, .x = x, .dw = dw, .db = db, .params = params}));
  std::vector<float> out;
  for (const Tensor* t : {&y, &dx, &dw, &db}) {
    const std::vector<float> v = t->to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(OneDnnThreads, CachedConvolutionsRunOnThreadsThatDidNotCreateThem) {
  const Stream s = cpu_context().compute_stream();
  Generator rng(7);
  // VGG16's last block (2x2 planes) at a small batch, a 4x4 plane, and a plane the direct kernels take.
  for (const Shape4 c : {Shape4{4, 64, 64, 2, 2}, Shape4{2, 32, 48, 4, 4}, Shape4{2, 16, 16, 8, 8}}) {
    const Tensor x = testing::random_tensor({c.n, c.c, c.h, c.w}, DType::kF32, rng);
    const Tensor w = testing::random_tensor({c.k, c.c, 3, 3}, DType::kF32, rng);
    const Tensor dy = testing::random_tensor({c.n, c.k, c.h, c.w}, DType::kF32, rng);
    const std::vector<float> created = run_convolution_passes(s, c, x, w, dy);  // creates the primitives here
    for (int round = 0; round < 2; ++round) {  // a fresh thread each round, as every epoch's stage threads
      std::vector<float> elsewhere;
      std::thread([&] { elsewhere = run_convolution_passes(s, c, x, w, dy); }).join();
      EXPECT_EQ(elsewhere, created) << "c " << c.c << " k " << c.k << " plane " << c.h << "x" << c.w;
    }
  }
}

}  // namespace
}  // namespace sprint::cpu
