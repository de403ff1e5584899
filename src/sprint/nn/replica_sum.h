// replica_sum.h: ReplicaSum, how a layer adds a tensor over the replicas of a data-parallel job (the same layer
// on every rank, each with its own part of the global batch). BatchNorm2d uses it, when RunContext carries one
// in training, to normalise with the whole job's batch statistics (synchronised batch norm). Implemented over
// the job's process group by train/ (nn does not depend on dist/).
//
// Every replica calls sum() the same number of times in the same order with tensors of the same shape (the
// layers run the same model), as collectives require.
#pragma once

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::nn {

class ReplicaSum {
 public:
  virtual ~ReplicaSum() = default;
  /// In place: t = Σ over the replicas of t, ordered after the work queued on `stream` and before what is
  /// queued after the call.
  virtual void sum(const Stream& stream, const Tensor& t) = 0;
};

}  // namespace sprint::nn
