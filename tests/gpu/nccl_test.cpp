// nccl_test.cpp: the NCCL process group of one rank on cuda:0 (a single-process bootstrap group): every
// collective runs through NCCL on the group's communication stream, ordered after the caller's stream (a long
// chain of kernels queued just before must be seen) and before its later work, with no host synchronisation;
// the sum and mean of one rank are the identity, in every dtype NCCL takes. Skipped without a GPU or NCCL.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "sprint/config.h"
#include "sprint/dist/nccl_process_group.h"

namespace sprint {
namespace {

class NcclGroupTest : public testing::CudaTest {
 protected:
  void SetUp() override {
    testing::CudaTest::SetUp();
    if (IsSkipped()) return;
    if (!dist::nccl_built()) GTEST_SKIP() << "no NCCL: this sprint was built without it";
  }
  std::unique_ptr<dist::ProcessGroup> group() {
    return dist::make_nccl_process_group(dist::make_single_process_group(), context(), std::chrono::seconds(60));
  }
};

TEST_F(NcclGroupTest, OneRankCollectivesOnTheDeviceInStreamOrder) {
  auto g = group();
  EXPECT_EQ(g->backend_name(), "nccl");
  constexpr int64_t kN = int64_t{1} << 24;
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor t = Tensor::empty({kN}, dtype, context().allocator());
    ops::fill(stream(), t, 0.0);
    for (int i = 0; i < 8; ++i) ops::axpby(stream(), {.a = t, .b = t, .out = t, .alpha = 1.0, .beta = 1.0});
    ops::fill(stream(), t, 3.0);  // the last write before the collective: what it must see
    g->allreduce(stream(), t, dist::ReduceOp::kSum);
    g->allreduce(stream(), t, dist::ReduceOp::kAverage);
    ops::axpby(stream(), {.a = t, .b = t, .out = t, .alpha = 1.0, .beta = 1.0});  // after it: 6
    const std::vector<float> v = values<float>(ops::cast_to(stream(), t, DType::kF32));
    EXPECT_EQ(v.front(), 6.0f);
    EXPECT_EQ(v.back(), 6.0f);
  }
  EXPECT_EQ(g->traffic().collectives, 8);
  EXPECT_EQ(g->traffic().bytes, 2 * kN * (4 + 2 + 2 + 8));
}

TEST_F(NcclGroupTest, OneRankAsyncBroadcastGatherAndScatter) {
  auto g = group();
  const Tensor t = to_device(Tensor::from_values<float>({1, 2, 3, 4}, Shape{4}));
  auto pending = g->allreduce_async(stream(), t, dist::ReduceOp::kSum);
  pending->wait();
  EXPECT_EQ(values<float>(t), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_TRUE(pending->test());
  g->broadcast(stream(), t, 0);
  const Tensor gathered = Tensor::empty({4}, DType::kF32, context().allocator());
  g->allgather(stream(), t, gathered);
  EXPECT_EQ(values<float>(gathered), (std::vector<float>{1, 2, 3, 4}));
  const Tensor mine = Tensor::empty({4}, DType::kF32, context().allocator());
  g->reduce_scatter(stream(), gathered, mine, dist::ReduceOp::kSum);
  EXPECT_EQ(values<float>(mine), (std::vector<float>{1, 2, 3, 4}));
  // Host tensors go to the bootstrap group; a barrier waits for the communication stream.
  const Tensor host = Tensor::from_values<float>({5, 6}, Shape{2});
  g->allreduce(stream(), host, dist::ReduceOp::kSum);
  EXPECT_EQ(host.to_vector<float>(), (std::vector<float>{5, 6}));
  g->barrier();
}

}  // namespace
}  // namespace sprint
