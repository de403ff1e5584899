// cublaslt_gemm.cpp: cuBLASLt handle, per-stream workspaces and the per-problem plan cache (descriptor,
// layouts, heuristic algorithm). Everything runs under one mutex: the plan's descriptor is updated per call
// (bias pointer).
#include "sprint/backend/cuda/cublaslt_gemm.h"

#include <cstring>

#include "sprint/backend/cuda/common.h"
#include "sprint/core/log.h"

namespace sprint::cuda {
namespace {

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    default: SPRINT_THROW(Unsupported, "cuBLASLt GEMM supports f32, f16 and bf16, got {}", dtype_name(dtype));
  }
}

cublasLtEpilogue_t lt_epilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kNone: return CUBLASLT_EPILOGUE_DEFAULT;
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kRelu: return CUBLASLT_EPILOGUE_RELU;
    case GemmEpilogue::kReluBias: return CUBLASLT_EPILOGUE_RELU_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

bool has_bias(GemmEpilogue e) {
  return e == GemmEpilogue::kBias || e == GemmEpilogue::kReluBias;
}

const char* epilogue_name(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kNone: return "none";
    case GemmEpilogue::kBias: return "bias";
    case GemmEpilogue::kRelu: return "relu";
    case GemmEpilogue::kReluBias: return "relu+bias";
  }
  return "?";
}

// Largest power of two (<= 256) dividing the address; 256 for null.
int alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  if (v == 0) return 256;
  int a = 1;
  while (a < 256 && v % (static_cast<uintptr_t>(a) * 2) == 0) a *= 2;
  return a;
}

template <class T>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& value) {
  SPRINT_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof(value)));
}

template <class T>
void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, const T& value) {
  SPRINT_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value)));
}

}  // namespace

struct CublasLtGemm::Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  bool supported = false;

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (d) (void)cublasLtMatrixLayoutDestroy(d);
    if (b) (void)cublasLtMatrixLayoutDestroy(b);
    if (a) (void)cublasLtMatrixLayoutDestroy(a);
    if (desc) (void)cublasLtMatmulDescDestroy(desc);
  }
};

size_t CublasLtGemm::KeyHash::operator()(const Key& k) const {
  size_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (int64_t v : {k.m, k.n, k.k, k.lda, k.ldb, k.ldd}) mix(static_cast<uint64_t>(v));
  for (int v : {k.dtype, k.d_dtype, k.trans_a, k.trans_b, k.epilogue, k.tf32, k.align_a, k.align_b, k.align_d,
                k.align_bias})
    mix(static_cast<uint64_t>(v));
  return h;
}

CublasLtGemm::CublasLtGemm(DeviceContext& context)
    : context_(context), device_index_(context.device().index) {
  SPRINT_CHECK(context.device().is_cuda(), "CublasLtGemm needs a CUDA context");
  DeviceGuard device(device_index_);
  SPRINT_CUBLAS_CHECK(cublasLtCreate(&handle_));
}

CublasLtGemm::~CublasLtGemm() {
  plans_.clear();
  if (handle_) (void)cublasLtDestroy(handle_);
  for (const Workspace& w : workspaces_) context_.allocator().deallocate(w.ptr, kWorkspaceBytes);
}

int64_t CublasLtGemm::n_cache_hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

int64_t CublasLtGemm::n_cache_misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

void* CublasLtGemm::workspace_for(const Stream& stream) {
  const cudaStream_t native = stream_of(stream);
  for (const Workspace& w : workspaces_)
    if (w.stream == native) return w.ptr;
  workspaces_.reserve(workspaces_.size() + 1);
  void* ptr = context_.allocator().allocate(kWorkspaceBytes);
  workspaces_.push_back({native, ptr});
  // The allocator is stream-ordered on the compute stream: the block's previous owner may still be in use there.
  order_after_compute_stream(stream);
  return ptr;
}

CublasLtGemm::Plan& CublasLtGemm::plan_for(const Key& key, const GemmProblem& p) {
  if (auto it = plans_.find(key); it != plans_.end()) {
    ++hits_;
    return *it->second;
  }
  ++misses_;
  auto plan = std::make_unique<Plan>();
  const cudaDataType_t type = cuda_type(p.dtype);
  const cublasComputeType_t compute =
      (p.dtype == DType::kF32 && key.tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  SPRINT_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, compute, CUDA_R_32F));
  set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA,
           static_cast<int32_t>(p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB,
           static_cast<int32_t>(p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N));
  set_desc(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<uint32_t>(lt_epilogue(p.epilogue)));
  if (has_bias(p.epilogue)) {
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(type));
    set_desc(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias);  // the heuristic looks at its alignment
  }
  // Stored (pre-op) shapes: A is (m x k), or (k x m) when transposed; B is (k x n), or (n x k).
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  SPRINT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, type, p.trans_a ? u(p.k) : u(p.m),
                                                 p.trans_a ? u(p.m) : u(p.k), p.lda));
  SPRINT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, type, p.trans_b ? u(p.n) : u(p.k),
                                                 p.trans_b ? u(p.k) : u(p.n), p.ldb));
  SPRINT_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->d, cuda_type(p.d_type()), u(p.m), u(p.n), p.ldd));

  cublasLtMatmulPreference_t pref = nullptr;
  SPRINT_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  cublasLtMatmulHeuristicResult_t results[8] = {};
  int returned = 0;
  cublasStatus_t status = CUBLAS_STATUS_SUCCESS;
  try {
    set_pref(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, static_cast<uint64_t>(kWorkspaceBytes));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(key.align_a));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(key.align_b));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(key.align_d));
    set_pref(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(key.align_d));
    status = cublasLtMatmulAlgoGetHeuristic(handle_, plan->desc, plan->a, plan->b, plan->d, plan->d, pref, 8,
                                            results, &returned);
  } catch (...) {
    (void)cublasLtMatmulPreferenceDestroy(pref);
    throw;
  }
  (void)cublasLtMatmulPreferenceDestroy(pref);
  if (status != CUBLAS_STATUS_SUCCESS && status != CUBLAS_STATUS_NOT_SUPPORTED) SPRINT_CUBLAS_CHECK(status);
  for (int i = 0; status == CUBLAS_STATUS_SUCCESS && i < returned; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS && results[i].workspaceSize <= kWorkspaceBytes) {
      plan->algo = results[i].algo;
      plan->supported = true;
      break;
    }
  }
  if (!plan->supported) {
    log_warn(
        "cuBLASLt: no algorithm for {} GEMM into {} m={} n={} k={} op(A)={} op(B)={} epilogue {} (alignments A "
        "{} B {} D {} bias {}){}",
        dtype_name(p.dtype), dtype_name(p.d_type()), p.m, p.n, p.k, p.trans_a ? "T" : "N", p.trans_b ? "T" : "N",
        epilogue_name(p.epilogue), key.align_a, key.align_b, key.align_d, key.align_bias,
        p.epilogue != GemmEpilogue::kNone ? "; falling back to a plain GEMM plus an epilogue kernel" : "");
  }
  return *plans_.emplace(key, std::move(plan)).first->second;
}

bool CublasLtGemm::run(const Stream& stream, const GemmProblem& p) {
  const cudaStream_t native = stream_of(stream);
  SPRINT_CHECK(p.m >= 1 && p.n >= 1 && p.k >= 1, "GEMM needs m, n, k >= 1, got {} {} {}", p.m, p.n, p.k);
  SPRINT_CHECK(p.a && p.b && p.d, "GEMM with a null operand");
  SPRINT_CHECK(!has_bias(p.epilogue) || p.bias != nullptr, "GEMM bias epilogue without a bias");
  SPRINT_CHECK(p.d_type() == p.dtype || (p.d_type() == DType::kF32 && p.dtype != DType::kF32 && !has_bias(p.epilogue)),
               "GEMM of {} operands into {}: D is the operands' dtype, or f32 beside f16/bf16 ones (no bias epilogue)",
               dtype_name(p.dtype), dtype_name(p.d_type()));
  SPRINT_CHECK(p.lda >= (p.trans_a ? p.k : p.m) && p.ldb >= (p.trans_b ? p.n : p.k) && p.ldd >= p.m,
               "GEMM leading dimensions too small: lda {} ldb {} ldd {} for m {} n {} k {}", p.lda, p.ldb,
               p.ldd, p.m, p.n, p.k);
  DeviceGuard device(device_index_);
  std::lock_guard<std::mutex> lock(mutex_);
  Key key{};
  key.dtype = static_cast<int>(p.dtype);
  key.d_dtype = static_cast<int>(p.d_type());
  key.trans_a = p.trans_a;
  key.trans_b = p.trans_b;
  key.epilogue = static_cast<int>(p.epilogue);
  key.tf32 = context_.numerics().allow_tf32 && p.dtype == DType::kF32;
  key.m = p.m;
  key.n = p.n;
  key.k = p.k;
  key.lda = p.lda;
  key.ldb = p.ldb;
  key.ldd = p.ldd;
  key.align_a = alignment_of(p.a);
  key.align_b = alignment_of(p.b);
  key.align_d = alignment_of(p.d);
  key.align_bias = has_bias(p.epilogue) ? alignment_of(p.bias) : 0;
  Plan& plan = plan_for(key, p);
  if (!plan.supported) {
    if (p.epilogue != GemmEpilogue::kNone) return false;
    SPRINT_THROW(BackendError,
                 "cuBLASLt has no algorithm for a {} GEMM m={} n={} k={} (see the warning above)",
                 dtype_name(p.dtype), p.m, p.n, p.k);
  }
  if (has_bias(p.epilogue)) set_desc(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, p.bias);
  void* workspace = workspace_for(stream);
  SPRINT_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &p.alpha, p.a, plan.a, p.b, plan.b, &p.beta, p.d,
                                     plan.d, p.d, plan.d, &plan.algo, workspace, kWorkspaceBytes, native));
  return true;
}

}  // namespace sprint::cuda
