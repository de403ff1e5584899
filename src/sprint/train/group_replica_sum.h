// group_replica_sum.h: nn::ReplicaSum over a data-parallel job's process group (a sum all-reduce), which
// synchronised batch norm adds its per-channel sums with.
#pragma once

#include "sprint/dist/process_group.h"
#include "sprint/nn/replica_sum.h"

namespace sprint::train {

class GroupReplicaSum final : public nn::ReplicaSum {
 public:
  /// `group` must outlive this.
  explicit GroupReplicaSum(dist::ProcessGroup& group) : group_(group) {}
  void sum(const Stream& stream, const Tensor& t) override { group_.allreduce(stream, t, dist::ReduceOp::kSum); }

 private:
  dist::ProcessGroup& group_;
};

}  // namespace sprint::train
