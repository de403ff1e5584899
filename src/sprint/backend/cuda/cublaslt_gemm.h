// cublaslt_gemm.h (CUDA backend): CublasLtGemm, the per-context cuBLASLt wrapper (a ContextExtension): one
// handle, a 32 MiB workspace per stream from the caching allocator, and a cache of matmul descriptors,
// layouts and heuristic algorithm choices per problem, so that steady-state steps make no heuristic queries.
//
// The interface is cuBLAS's COLUMN-MAJOR GEMM:  D (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * D,
// with an optional epilogue (bias of length m added to every column, then optional ReLU). op(X) = X or X^T;
// A is stored (m x k) with leading dimension lda, or (k x m) when trans_a; B is (k x n), or (n x k) when
// trans_b; D is (m x n) with leading dimension ldd. The row-major mapping is the caller's business (see
// linear.cpp). Precision: f32 inputs use CUBLAS_COMPUTE_32F (true FP32, no TF32) unless allow_tf32 is set;
// f16/bf16 inputs compute in f32 (CUBLAS_COMPUTE_32F) and round the output once, or write an f32 D (then C
// == D is f32 too, so accumulation happens in f32). alpha/beta are f32.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "sprint/core/dtype.h"
#include "sprint/runtime/device_context.h"

namespace sprint::cuda {

enum class GemmEpilogue : uint8_t { kNone, kBias, kRelu, kReluBias };

struct GemmProblem {
  DType dtype = DType::kF32;  ///< of A, B, the bias, and D unless d_dtype is set
  /// D's dtype when it differs: f32 beside f16/bf16 A and B (weight gradients accumulated in f32).
  std::optional<DType> d_dtype;
  bool trans_a = false;
  bool trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  const void* b = nullptr;
  int64_t ldb = 0;
  void* d = nullptr;
  int64_t ldd = 0;
  float alpha = 1.0f;
  float beta = 0.0f;  ///< 0: D is overwritten; 1: accumulated into (C == D)
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  const void* bias = nullptr;  ///< length m, for kBias / kReluBias

  DType d_type() const { return d_dtype.value_or(dtype); }
};

class CublasLtGemm final : public ContextExtension {
 public:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;

  explicit CublasLtGemm(DeviceContext& context);
  ~CublasLtGemm() override;

  /// Queues the GEMM on `stream`. Returns false (and queues nothing) when cuBLASLt has no algorithm for this
  /// epilogue with these types and alignments; the caller then runs kNone plus its own epilogue kernel.
  /// Throws BackendError when even kNone has no algorithm or a cuBLASLt call fails. Requires m, n, k >= 1.
  bool run(const Stream& stream, const GemmProblem& problem);

  // f32 GEMMs use TF32 tensor cores (about 10 mantissa bits) only when the context's Numerics allow it.

  /// Plan-cache statistics (a miss is one heuristic query).
  int64_t n_cache_hits() const;
  int64_t n_cache_misses() const;

 private:
  struct Key {
    int dtype, d_dtype, trans_a, trans_b, epilogue, tf32;
    int64_t m, n, k, lda, ldb, ldd;
    int align_a, align_b, align_d, align_bias;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Plan;

  Plan& plan_for(const Key& key, const GemmProblem& problem);
  void* workspace_for(const Stream& stream);

  DeviceContext& context_;
  int device_index_;
  cublasLtHandle_t handle_ = nullptr;
  mutable std::mutex mutex_;
  std::unordered_map<Key, std::unique_ptr<Plan>, KeyHash> plans_;
  struct Workspace {
    cudaStream_t stream;
    void* ptr;
  };
  std::vector<Workspace> workspaces_;
  int64_t hits_ = 0, misses_ = 0;
};

}  // namespace sprint::cuda
