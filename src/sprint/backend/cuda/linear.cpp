// linear.cpp (CUDA): y = act(x · wᵀ + b) and its backward on cuBLASLt, with the same semantics as
// backend/cpu/linear.cpp (GradMode per output, ReLU gradient from the forward output y).
//
// Row-major <-> column-major mapping. sprint's matrices are row-major; cuBLASLt's are column-major. A
// row-major (r x c) matrix with leading dimension c is, byte for byte, the column-major (c x r) matrix — its
// transpose — with the same leading dimension. So every product is computed transposed, with each operand
// read as stored:
//
//   forward   y = x·wᵀ (N,O)   <=>  yᵀ (O x N) = w_cm^T·x_cm        A = w (stored I x O, ld I) op T, m = O
//                                                                    B = x (stored I x N, ld I) op N, n = N,
//                                                                    k = I D = y (O x N, ld O); bias (O) runs
//                                                                    along m, which is what the BIAS epilogue
//                                                                    broadcasts.
//   dW = dpreᵀ·x (O,I)         <=>  dWᵀ (I x O) = x_cm·dpre_cm^T     A = x (I x N, ld I) op N, m = I
//                                                                    B = dpre (stored O x N, ld O) op T, n =
//                                                                    O, k = N D = dw (I x O, ld I)
//   dX = dpre·w (N,I)          <=>  dXᵀ (I x N) = w_cm·dpre_cm       A = w (I x O, ld I) op N, m = I
//                                                                    B = dpre (O x N, ld O) op N, n = N, k =
//                                                                    O D = dx (I x N, ld I)
// (x_cm denotes the column-major reading of x's memory, i.e. xᵀ.)
//
// Epilogues: forward fuses bias and ReLU (BIAS / RELU / RELU_BIAS); when cuBLASLt has no algorithm for that
// epilogue the plain GEMM runs and launch_bias_activation finishes the job (logged once per shape). Backward:
// dpre = dy ⊙ [y > 0] is written into args.scratch by the ReLU-backward kernel (no AUX bit-mask is kept, so
// no DRELU epilogue); db is a deterministic column-sum kernel (cuBLASLt's BGRADB epilogue cannot accumulate
// into db for GradMode::kAccumulate); beta = 1 implements accumulation into dx / dw. Mixed precision: dw and db
// may be f32 beside f16/bf16 operands (D of the dW GEMM is then f32: the accumulation stays in f32).
#include "sprint/backend/api/linear.h"

#include "sprint/backend/api/elementwise.h"
#include "sprint/backend/cuda/common.h"
#include "sprint/backend/cuda/cublaslt_gemm.h"
#include "sprint/backend/cuda/linear_kernels.h"

namespace sprint::cuda {
namespace {

void check_matrix(const Tensor& t, int64_t rows, int64_t cols, DType dtype, const char* name) {
  SPRINT_CHECK(t.defined() && t.ndim() == 2 && t.dim(0) == rows && t.dim(1) == cols && t.dtype() == dtype &&
                   t.is_contiguous(),
               "linear: {} must be a contiguous {} ({}, {}) tensor, got {}", name, dtype_name(dtype), rows,
               cols, t.description());
}

void check_vector(const Tensor& t, int64_t n, DType dtype, const char* name) {
  SPRINT_CHECK(t.defined() && t.ndim() == 1 && t.dim(0) == n && t.dtype() == dtype && t.is_contiguous(),
               "linear: {} must be a contiguous {} ({}) tensor, got {}", name, dtype_name(dtype), n,
               t.description());
}

// D (m x n, ld m, contiguous) = alpha op(A) op(B) + beta D, with the degenerate cases cuBLASLt does not take:
// m or n == 0 (nothing to do) and k == 0 (D = beta D: zero it when overwriting).
void gemm(const Stream& stream, const GemmProblem& p, const char* what) {
  if (p.m == 0 || p.n == 0) return;
  if (p.k == 0) {
    if (p.beta == 0.0f)
      SPRINT_CUDA_CHECK(
          cudaMemsetAsync(p.d, 0, static_cast<size_t>(p.m * p.n) * dtype_size(p.d_type()), stream_of(stream)));
    return;
  }
  // With epilogue kNone run() either queues the GEMM or throws; false would be a broken invariant.
  const bool queued = stream.context().extension<CublasLtGemm>().run(stream, p);
  SPRINT_ASSERT(queued, "cuBLASLt refused the plain {} GEMM", what);
}

}  // namespace

void linear_forward(const Stream& stream, const LinearForwardArgs& a) {
  OpScope scope(stream, "cuda.linear_forward");
  const DType dtype = a.x.dtype();
  check_cuda_floating(dtype, "linear_forward");
  SPRINT_CHECK(a.x.ndim() == 2 && a.w.ndim() == 2, "linear_forward: x and w must be 2-D");
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  check_matrix(a.x, n, in, dtype, "x");
  check_matrix(a.w, out, in, dtype, "w");
  check_matrix(a.y, n, out, dtype, "y");
  if (a.b.defined()) check_vector(a.b, out, dtype, "b");
  if (n == 0 || out == 0) return;
  bool relu = false;
  switch (a.activation) {
    case Activation::kNone: break;
    case Activation::kReLU: relu = true; break;
  }
  const void* bias = a.b.defined() ? a.b.data() : nullptr;
  if (in == 0) {  // y = act(b) broadcast (x · wᵀ is an empty sum)
    SPRINT_CUDA_CHECK(cudaMemsetAsync(a.y.data(), 0, a.y.n_bytes(), scope.stream()));
    launch_bias_activation(scope.stream(), dtype, a.y.data(), bias, n, out, relu);
    return;
  }
  GemmProblem p;
  p.dtype = dtype;
  p.trans_a = true;
  p.trans_b = false;
  p.m = out;
  p.n = n;
  p.k = in;
  p.a = a.w.data();
  p.lda = in;
  p.b = a.x.data();
  p.ldb = in;
  p.d = a.y.data();
  p.ldd = out;
  p.alpha = 1.0f;
  p.beta = 0.0f;
  p.bias = bias;
  p.epilogue = bias ? (relu ? GemmEpilogue::kReluBias : GemmEpilogue::kBias)
                    : (relu ? GemmEpilogue::kRelu : GemmEpilogue::kNone);
  CublasLtGemm& lt = stream.context().extension<CublasLtGemm>();
  if (lt.run(stream, p)) return;
  // No fused algorithm for this epilogue: plain GEMM, then bias + activation.
  p.epilogue = GemmEpilogue::kNone;
  p.bias = nullptr;
  gemm(stream, p, "forward");
  launch_bias_activation(scope.stream(), dtype, a.y.data(), bias, n, out, relu);
}

void linear_backward(const Stream& stream, const LinearBackwardArgs& a) {
  OpScope scope(stream, "cuda.linear_backward");
  const DType dtype = a.x.dtype();
  check_cuda_floating(dtype, "linear_backward");
  SPRINT_CHECK(a.x.ndim() == 2 && a.w.ndim() == 2, "linear_backward: x and w must be 2-D");
  const int64_t n = a.x.dim(0), in = a.x.dim(1), out = a.w.dim(0);
  check_matrix(a.x, n, in, dtype, "x");
  check_matrix(a.w, out, in, dtype, "w");
  check_matrix(a.dy, n, out, dtype, "dy");
  if (a.dx.defined()) check_matrix(a.dx, n, in, dtype, "dx");
  // Parameter gradients: the operands' dtype, or f32 beside f16/bf16 operands (mixed precision).
  const DType grad_dtype = a.dw.defined() ? a.dw.dtype() : (a.db.defined() ? a.db.dtype() : dtype);
  SPRINT_CHECK(grad_dtype == dtype || grad_dtype == DType::kF32,
               "linear_backward: {} operands have {} or f32 parameter gradients, got {}", dtype_name(dtype),
               dtype_name(dtype), dtype_name(grad_dtype));
  if (a.dw.defined()) check_matrix(a.dw, out, in, grad_dtype, "dw");
  if (a.db.defined()) check_vector(a.db, out, grad_dtype, "db");

  // Pre-activation gradient.
  const void* dpre = a.dy.data();
  switch (a.activation) {
    case Activation::kNone: break;
    case Activation::kReLU:
      check_matrix(a.y, n, out, dtype, "y");
      check_matrix(a.scratch, n, out, dtype, "scratch");
      relu_backward(stream,
                    ReluBackwardArgs{.dy = a.dy, .y = a.y, .dx = a.scratch, .mode = GradMode::kOverwrite});
      dpre = a.scratch.data();
      break;
  }
  const float beta_param = a.param_mode == GradMode::kAccumulate ? 1.0f : 0.0f;
  if (a.dw.defined()) {
    GemmProblem p;
    p.dtype = dtype;
    p.trans_a = false;
    p.trans_b = true;
    p.m = in;
    p.n = out;
    p.k = n;
    p.a = a.x.data();
    p.lda = in;
    p.b = dpre;
    p.ldb = out;
    p.d = a.dw.data();
    p.d_dtype = grad_dtype;
    p.ldd = in;
    p.beta = beta_param;
    gemm(stream, p, "dW");
  }
  if (a.db.defined())
    launch_column_sum(scope.stream(), dtype, dpre, grad_dtype, a.db.data(), n, out,
                      a.param_mode == GradMode::kAccumulate);
  if (a.dx.defined()) {
    GemmProblem p;
    p.dtype = dtype;
    p.trans_a = false;
    p.trans_b = false;
    p.m = in;
    p.n = n;
    p.k = out;
    p.a = a.w.data();
    p.lda = in;
    p.b = dpre;
    p.ldb = out;
    p.d = a.dx.data();
    p.ldd = in;
    p.beta = a.dx_mode == GradMode::kAccumulate ? 1.0f : 0.0f;
    gemm(stream, p, "dX");
  }
}

}  // namespace sprint::cuda
