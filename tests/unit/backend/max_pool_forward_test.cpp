// max_pool_forward_test.cpp: the CPU's f32 max-pool forward fast path agrees with the reference loop bit for bit,
// values and indices, on inputs full of ties and NaNs (first maximum wins, a NaN seed stays, a later NaN never
// wins), in NCHW, NHWC and C == 1, with padding and overlapping windows, on one thread and on several.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "sprint/core/rng.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/pool.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cpu {
namespace {

// Values from {-1, 0, 1, NaN}: most windows hold ties, many hold a NaN.
Tensor tied_input(const Shape& shape, MemoryFormat format, Generator& rng) {
  Tensor logical = Tensor::empty(shape, DType::kF32);
  float* v = logical.data_as<float>();
  for (int64_t i = 0; i < logical.numel(); ++i) {
    const uint64_t r = rng.below(8);
    v[i] = r == 0 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(static_cast<int>(r % 3) - 1);
  }
  Tensor x = Tensor::empty(shape, DType::kF32, cpu_allocator(), format);
  ops::copy(cpu_context().compute_stream(), logical, x);
  return x;
}

struct Result {
  std::vector<float> y;
  std::vector<int32_t> idx;
};

Result run(const Tensor& x, const Pool2dParams& p, bool reference, int threads) {
  CpuContext& ctx = cpu_context();
  const bool saved_ref = ctx.reference_only();
  const int saved_threads = ctx.num_threads();
  ctx.set_reference_only(reference);
  ctx.set_num_threads(threads);
  const Shape out = ops::pool2d_output_shape(x.shape(), p);
  Tensor y = Tensor::empty(out, DType::kF32, cpu_allocator(), x.memory_format());
  Tensor idx = Tensor::empty(out, DType::kI32, cpu_allocator(), x.memory_format());
  ops::max_pool2d_forward(ctx.compute_stream(), {.x = x, .y = y, .indices = idx, .params = p});
  ctx.set_reference_only(saved_ref);
  ctx.set_num_threads(saved_threads);
  return {y.to_vector<float>(), idx.to_vector<int32_t>()};
}

void expect_same_as_reference(const Shape& shape, const Pool2dParams& p, MemoryFormat format, int threads) {
  SCOPED_TRACE(shape.to_string() + (format == MemoryFormat::kChannelsLast ? " nhwc" : " nchw") + " threads " +
               std::to_string(threads) + " kernel " + std::to_string(p.kernel));
  Generator rng(5);
  const Tensor x = tied_input(shape, format, rng);
  const Result want = run(x, p, /*reference=*/true, 1);
  const Result got = run(x, p, /*reference=*/false, threads);
  ASSERT_EQ(got.y.size(), want.y.size());
  EXPECT_EQ(std::memcmp(got.y.data(), want.y.data(), got.y.size() * sizeof(float)), 0) << "values differ";
  EXPECT_EQ(got.idx, want.idx) << "indices differ";
}

TEST(MaxPoolForwardFast, MatchesTheReferenceOnTiesAndNans) {
  for (MemoryFormat f : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast})
    for (int threads : {1, 2}) {
      expect_same_as_reference({4, 16, 12, 12}, {.kernel = 2, .stride = 2}, f, threads);
      expect_same_as_reference({3, 5, 9, 8}, {.kernel = 3, .stride = 2, .padding = 1}, f, threads);
      expect_same_as_reference({2, 1, 7, 7}, {.kernel = 2, .stride = 1}, f, threads);
      expect_same_as_reference({2, 24, 7, 5}, {.kernel = 3, .stride = 1, .padding = 1}, f, threads);
    }
}

}  // namespace
}  // namespace sprint::cpu
