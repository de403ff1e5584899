// cudnn_conv.h (CUDA backend): CudnnConv, the per-context convolution engine behind cuda::conv2d_* (a
// ContextExtension): cuDNN legacy-API descriptors and the algorithm chosen for each problem, cached so that a
// problem is searched (cudnnFind*AlgorithmEx, which times the candidates on the device) once per process.
//
// Problem key: direction, dtype, layout, N C H W, K R S, P Q, stride, padding, dilation, groups, math mode,
// determinism, pointer alignment. Algorithm policy:
//   - not capturing, key not searched yet: cudnnGet*Algorithm_v7 sizes the search workspace (the largest
//     candidate under the workspace limit), cudnnFind*AlgorithmEx times the candidates on the call's real
//     inputs (outputs go to a scratch block, so accumulate-mode outputs are not clobbered), the fastest one
//     that passes the filters is cached;
//   - capturing a CUDA graph: never Find (it synchronises); use the cached choice, else the first
//     heuristic (Get_v7) candidate that passes the filters, cached as "not searched" so that the next eager call
//     upgrades it with a Find;
//   - filters: status success, workspace <= limit, deterministic when the context's Numerics ask for it
//     (default: sprint's reductions are reproducible run to run; a problem with no deterministic algorithm
//     falls back to a non-deterministic one, warns once and counts in Stats::n_nondeterministic), and for f32 without TF32 the FMA math mode (CUDNN_FMA_MATH on the
//     descriptor: no TF32 tensor cores, like the cuBLASLt GEMMs). f16/bf16 use CUDNN_TENSOR_OP_MATH (float
//     accumulation, compute type float).
// Workspaces come from StreamWorkspace (per stream, persistent, grows). NHWC calls whose weights are not
// layout-neutral (C/G > 1 and R·S > 1) reorder KCRS weights into KRSC inside that workspace first (dw is
// computed in KRSC and reordered back), because cuDNN's NHWC kernels want an NHWC filter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "sprint/backend/api/conv.h"
#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

class CudnnConv final : public ContextExtension {
 public:
  /// Default cap on the cuDNN workspace of one convolution (the search tries nothing larger).
  static constexpr size_t kDefaultWorkspaceLimit = size_t{1} << 30;

  explicit CudnnConv(DeviceContext& context);
  ~CudnnConv() override;
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  void forward(const Stream& stream, const Conv2dForwardArgs& args);
  void backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
  void backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);

  /// Algorithm-cache statistics. A hit reuses a cached choice; a miss creates or upgrades one, by a Find
  /// (n_finds) or, while capturing a graph, by the heuristic (n_heuristic_choices).
  struct Stats {
    int64_t hits = 0;
    int64_t misses = 0;
    int64_t n_finds = 0;
    int64_t n_heuristic_choices = 0;
    int64_t n_plans = 0;
    /// Problems planned with a non-deterministic algorithm although the context asked for determinism (cuDNN
    /// had no deterministic one for them).
    int64_t n_nondeterministic = 0;
  };
  Stats stats() const;

  // TF32 and determinism come from the context's Numerics (DeviceContext::numerics); both are in the key.
  void set_workspace_limit(size_t n_bytes);
  size_t workspace_limit() const;
  /// Forgets every cached plan (the next call of each problem searches again).
  void clear_plans();

  struct Key {
    int kind, dtype, layout, math, deterministic, align;
    int64_t n, c, h, w, k, r, s, p, q, stride, padding, dilation, groups;
    int64_t workspace_limit;
    bool operator==(const Key&) const = default;
  };
  struct Call;
  struct Plan;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };

  void run(const Stream& stream, const Call& call);
  Plan& plan_for(const Stream& stream, void* handle, const Call& call, bool capturing);

  DeviceContext& context_;
  mutable std::mutex mutex_;  // plans_, settings and statistics
  std::unordered_map<Key, std::unique_ptr<Plan>, KeyHash> plans_;
  size_t workspace_limit_ = kDefaultWorkspaceLimit;
  Stats stats_;
};

}  // namespace sprint::cuda
