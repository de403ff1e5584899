// process_group_test.cpp: the single-process group. Collectives are identities (allgather and reduce_scatter
// copy), in every dtype the groups take, on strided and blocked tensors (staged through contiguous copies);
// bad arguments are errors that name the collective; traffic is counted.
#include "sprint/dist/process_group.h"

#include <gtest/gtest.h>

#include <vector>

#include "sprint/config.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "unit/dist/collective_test_util.h"

namespace sprint::dist {
namespace {

Tensor sample(DType dtype, const Shape& shape = Shape{2, 3}) {
  std::vector<double> v;
  for (int64_t i = 0; i < shape.product(); ++i) v.push_back(static_cast<double>(i) - 2.0);
  return ops::cast_to(cpu(), Tensor::from_values<double>(v, shape), dtype);
}

TEST(SingleProcessGroup, CollectivesAreIdentities) {
  auto group = make_single_process_group();
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->size(), 1);
  EXPECT_EQ(group->backend_name(), "single");
  for (DType dtype : {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI32, DType::kI64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor t = sample(dtype);
    const std::vector<double> before = values(t);
    group->allreduce(cpu(), t, ReduceOp::kSum);
    EXPECT_EQ(values(t), before);
    group->broadcast(cpu(), t, 0);
    EXPECT_EQ(values(t), before);
    const Tensor gathered = Tensor::empty(Shape{6}, dtype);
    group->allgather(cpu(), t, gathered);
    EXPECT_EQ(values(gathered), before);
    const Tensor scattered = Tensor::empty(Shape{2, 3}, dtype);
    group->reduce_scatter(cpu(), t, scattered, ReduceOp::kSum);
    EXPECT_EQ(values(scattered), before);
    if (dtype != DType::kI32 && dtype != DType::kI64) {
      group->allreduce(cpu(), t, ReduceOp::kAverage);
      EXPECT_EQ(values(t), before);
    }
  }
  group->barrier();
  EXPECT_EQ(group->traffic().collectives, 4 * 6 + 4 + 1);
  EXPECT_GT(group->traffic().bytes, 0);
}

TEST(SingleProcessGroup, StagesStridedAndBlockedTensors) {
  auto group = make_single_process_group();
  const Tensor base = sample(DType::kF32, Shape{2, 12, 2, 2});
  const Tensor blocked = ops::cast_to(cpu(), base, DType::kBF16, MemoryFormat::kChannelsBlocked8);
  group->allreduce(cpu(), blocked, ReduceOp::kAverage);
  EXPECT_EQ(values(blocked), values(base));
  const Tensor view = base.narrow(1, 3, 4);
  const std::vector<double> before = values(view);
  group->broadcast(cpu(), view, 0);
  EXPECT_EQ(values(view), before);
}

TEST(SingleProcessGroup, BadArgumentsNameTheCollective) {
  auto group = make_single_process_group();
  const Tensor t = sample(DType::kF32);
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { group->broadcast(cpu(), t, 1); }).find("broadcast: root 1"), std::string::npos);
  EXPECT_NE(message([&] { group->allgather(cpu(), t, Tensor::empty(Shape{5}, DType::kF32)); }).find("allgather"),
            std::string::npos);
  EXPECT_NE(message([&] { group->reduce_scatter(cpu(), t, Tensor::empty(Shape{6}, DType::kF64), ReduceOp::kSum); })
                .find("reduce_scatter"),
            std::string::npos);
  EXPECT_NE(message([&] { group->allreduce(cpu(), Tensor::empty(Shape{3}, DType::kU8), ReduceOp::kSum); }).find("not u8"),
            std::string::npos);
  EXPECT_NE(message([&] { group->allreduce(cpu(), sample(DType::kI64), ReduceOp::kAverage); }).find("floating"),
            std::string::npos);
  EXPECT_NE(message([&] { group->allreduce(cpu(), Tensor(), ReduceOp::kSum); }).find("undefined"),
            std::string::npos);
}

TEST(ProcessGroupFactory, MpiIsReportedAsBuilt) {
  EXPECT_EQ(mpi_built(), SPRINT_HAS_MPI != 0);
#if !SPRINT_HAS_MPI
  EXPECT_THROW(make_mpi_process_group(std::chrono::seconds(1)), Unsupported);
#endif
}

}  // namespace
}  // namespace sprint::dist
