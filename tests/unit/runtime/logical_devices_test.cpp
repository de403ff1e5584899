// logical_devices_test.cpp: the logical host devices cpu:1 .. cpu:7 (core/device.h): names, one context each
// with the host's shared settings, tensors of their own device that meet another device's only through a copy,
// copies between them in any memory format, and stream waits across devices.
#include <gtest/gtest.h>

#include "sprint/core/error.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint {
namespace {

const Device kCpu2{DeviceType::kCPU, 2}, kCpu3{DeviceType::kCPU, 3};

TEST(LogicalDevices, NamesAndParsing) {
  EXPECT_EQ(parse_device("cpu:2"), kCpu2);
  EXPECT_EQ(device_name(kCpu2), "cpu:2");
  EXPECT_EQ(device_name(kCPU), "cpu");
  EXPECT_EQ(parse_device("cpu:0"), kCPU);
  EXPECT_EQ(parse_device("cpu:7"), (Device{DeviceType::kCPU, 7}));
  for (const char* bad : {"cpu:8", "cpu:-1", "cpu:", "cpu:1x"}) EXPECT_THROW(parse_device(bad), InvalidArgument) << bad;
  EXPECT_THROW(device_context(Device{DeviceType::kCPU, 9}), InvalidArgument);
}

TEST(LogicalDevices, OneContextEachWithTheHostsSettings) {
  DeviceContext& c = device_context(kCpu2);
  EXPECT_EQ(c.device(), kCpu2);
  EXPECT_EQ(&device_context(kCpu2), &c);
  EXPECT_NE(&device_context(kCpu3), &c);
  EXPECT_EQ(c.allocator().device(), kCpu2);
  const int threads = cpu_context().num_threads();
  cpu_context().set_num_threads(threads + 1);
  EXPECT_EQ(static_cast<CpuContext&>(c).num_threads(), threads + 1);
  cpu_context().set_num_threads(threads);
}

TEST(LogicalDevices, TensorsMeetOtherDevicesOnlyThroughCopies) {
  const Stream s = device_context(kCpu2).compute_stream();
  const Tensor t = ops::full(s, {3}, DType::kF32, 2.0);
  EXPECT_EQ(t.device(), kCpu2);
  const Tensor on_cpu = Tensor::from_values(std::vector<float>{1, 2, 3}, {3});
  EXPECT_THROW(ops::axpby(s, {.a = on_cpu, .b = t, .out = t}), InvalidArgument);
  const Tensor moved = ops::to_stream_device(s, on_cpu);
  EXPECT_EQ(moved.device(), kCpu2);
  EXPECT_EQ(moved.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  const Tensor back = Tensor::empty({3}, DType::kF32);
  ops::copy(cpu_context().compute_stream(), t, back);  // any host stream runs a host-to-host copy
  EXPECT_EQ(back.to_vector<float>(), (std::vector<float>{2, 2, 2}));
  EXPECT_THROW(ops::copy(s, on_cpu, Tensor::empty({3}, DType::kF64, device_context(kCpu2).allocator())),
               InvalidArgument);  // across devices one dtype
}

TEST(LogicalDevices, CopiesKeepTheMemoryFormat) {
  const Stream host = cpu_context().compute_stream(), s = device_context(kCpu3).compute_stream();
  std::vector<float> values(2 * 3 * 4 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor x = Tensor::from_values(values, {2, 3, 4, 5});
  for (const MemoryFormat format : {MemoryFormat::kContiguous, MemoryFormat::kChannelsLast, MemoryFormat::kChannelsBlocked8}) {
    const Tensor formatted = ops::cast_to(host, x, DType::kF32, format);
    const Tensor there = ops::copy_to(s, formatted);
    EXPECT_EQ(there.device(), kCpu3);
    EXPECT_EQ(there.memory_format(), format);
    EXPECT_EQ(ops::cast_to(s, there, DType::kF32).to_vector<float>(), values);
  }
  // A strided view is made dense first.
  const Tensor view = x.rows(1, 1);
  EXPECT_EQ(ops::copy_to(s, view).to_vector<float>(), std::vector<float>(values.begin() + 60, values.end()));
}

TEST(LogicalDevices, StreamsWaitAcrossDevices) {
  const Stream a = device_context(kCpu2).compute_stream(), b = cpu_context().compute_stream();
  EXPECT_NO_THROW(a.wait_for(b));  // host work is done when queued: nothing to wait for, and no error
  EXPECT_NO_THROW(b.wait_for(a));
}

}  // namespace
}  // namespace sprint
