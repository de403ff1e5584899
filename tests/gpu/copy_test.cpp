// copy_test.cpp: host <-> device round trips (pageable and pinned, odd sizes, empty), device-side casts
// between every dtype pair, strided layout changes and exact same-dtype copies, compared with the CPU
// backend.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "gpu/gpu_test_util.h"
#include "sprint/ops/elementwise.h"
#include "support/test_util.h"

namespace sprint {
namespace {

class CopyTest : public testing::CudaTest {};

constexpr DType kAllDtypes[] = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
                                DType::kI32, DType::kI64, DType::kU8};

TEST_F(CopyTest, HostDeviceRoundTripPageableAndPinned) {
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{(1 << 20) + 3}}) {
    std::vector<int32_t> values_in(static_cast<size_t>(n));
    std::iota(values_in.begin(), values_in.end(), 11);
    const Tensor pageable = Tensor::from_values(values_in, {n});
    const Tensor dev = to_device(pageable);
    EXPECT_EQ(dev.device(), cuda_device(0));
    EXPECT_EQ(values<int32_t>(dev), values_in) << "n = " << n;
    // Pinned host -> device -> pinned host through copy_bytes on the copy stream.
    Tensor pinned = Tensor::empty({n}, DType::kI32, context().host_allocator());
    if (n) std::memcpy(pinned.data(), values_in.data(), static_cast<size_t>(n) * 4);
    Tensor dev2 = Tensor::empty({n}, DType::kI32, context().allocator());
    Tensor back = Tensor::empty({n}, DType::kI32, context().host_allocator());
    const Stream copy = context().copy_stream();
    context().copy_bytes(copy, dev2.data(), pinned.data(), pinned.n_bytes(), CopyKind::kHostToDevice);
    context().copy_bytes(copy, back.data(), dev2.data(), dev2.n_bytes(), CopyKind::kDeviceToHost);
    copy.synchronize();
    EXPECT_EQ(back.to_vector<int32_t>(), values_in) << "n = " << n;
  }
}

TEST_F(CopyTest, DeviceToDeviceCopy) {
  const Tensor host = Tensor::from_values(std::vector<float>{1.5f, -2.0f, 3.25f}, {3});
  const Tensor a = to_device(host);
  Tensor b = Tensor::empty({3}, DType::kF32, context().allocator());
  ops::copy(stream(), a, b);
  EXPECT_EQ(values<float>(b), (std::vector<float>{1.5f, -2.0f, 3.25f}));
}

TEST_F(CopyTest, CastBetweenEveryDtypePairMatchesTheCpu) {
  // Values every dtype represents well (u8: non-negative; f16/bf16 rounding is compared with the CPU's).
  const Tensor host = Tensor::from_values(std::vector<double>{0.0, 1.5, 2.25, 200.0, 3.75, 100.1, 7.0}, {7});
  const Stream cpu = cpu_context().compute_stream();
  for (DType from : kAllDtypes) {
    const Tensor src_host = ops::cast_to(cpu, host, from);
    const Tensor src_dev = to_device(src_host);
    for (DType to : kAllDtypes) {
      const Tensor expected = ops::cast_to(cpu, src_host, to);
      const Tensor got = ops::cast_to(stream(), src_dev, to);
      EXPECT_EQ(values<double>(got), expected.to_vector<double>())
          << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

TEST_F(CopyTest, LayoutConversionAndBackMatchesTheCpu) {
  Generator rng(7);
  const Tensor host = testing::random_tensor({3, 5, 7, 9}, DType::kF32, rng);
  const Tensor dev = to_device(host);
  const Stream cpu = cpu_context().compute_stream();
  for (DType d : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64}) {
    const Tensor expected = ops::cast_to(cpu, host, d, MemoryFormat::kChannelsLast);
    const Tensor nhwc = ops::cast_to(stream(), dev, d, MemoryFormat::kChannelsLast);
    EXPECT_TRUE(nhwc.is_channels_last());
    EXPECT_EQ(values<double>(nhwc), expected.to_vector<double>()) << dtype_name(d);
    const Tensor back = ops::cast_to(stream(), nhwc, DType::kF32, MemoryFormat::kContiguous);
    EXPECT_EQ(values<double>(back), ops::cast_to(cpu, expected, DType::kF32).to_vector<double>())
        << dtype_name(d);
  }
}

TEST_F(CopyTest, StridedSameDtypeCopyIsExactForLargeIntegers) {
  // i64 values above 2^53 would lose bits through a double: same-dtype copies must move raw bits.
  std::vector<int64_t> v(2 * 3 * 4 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = (int64_t{1} << 60) + static_cast<int64_t>(i) * 3 + 1;
  const Tensor host = Tensor::from_values(v, {2, 3, 4, 5});
  const Tensor dev = to_device(host);
  const Tensor nhwc = ops::cast_to(stream(), dev, DType::kI64, MemoryFormat::kChannelsLast);
  const Tensor back = ops::cast_to(stream(), nhwc, DType::kI64);
  EXPECT_EQ(values<int64_t>(back), v);
  // A narrowed (non-contiguous) view copied into a contiguous tensor.
  const Tensor view = dev.narrow(3, 1, 3);
  Tensor dst = Tensor::empty(view.shape(), DType::kI64, context().allocator());
  ops::copy(stream(), view, dst);
  const std::vector<int64_t> got = values<int64_t>(dst);
  size_t k = 0;
  for (int64_t a = 0; a < 2 * 3 * 4; ++a)
    for (int64_t b = 1; b < 4; ++b) ASSERT_EQ(got[k++], v[static_cast<size_t>(a * 5 + b)]);
}

TEST_F(CopyTest, FillEveryDtype) {
  const Stream cpu = cpu_context().compute_stream();
  for (DType d : kAllDtypes) {
    for (double value : {0.0, 3.0, 2.5}) {
      const Tensor got = ops::full(stream(), {1001}, d, value);
      const Tensor expected = ops::full(cpu, {1001}, d, value);
      EXPECT_EQ(values<double>(got), expected.to_vector<double>()) << dtype_name(d) << " " << value;
    }
  }
  // Empty and 0-d tensors.
  EXPECT_EQ(values<float>(ops::full(stream(), {0}, DType::kF32, 1.0)).size(), 0u);
  EXPECT_EQ(values<float>(ops::full(stream(), {}, DType::kF32, -4.0)), std::vector<float>{-4.0f});
}

}  // namespace
}  // namespace sprint
