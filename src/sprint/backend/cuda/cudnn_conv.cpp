// cudnn_conv.cpp (CUDA): conv2d forward / backward-data / backward-weight on cuDNN's legacy API, with the
// semantics of backend/cpu/conv.cpp (cross-correlation, groups, dilation, symmetric padding, fused bias +
// ReLU, GradMode via beta). See cudnn_conv.h for the algorithm cache and its policy.
//
// Descriptors. The activations of a call are dense NCHW or NHWC (image.h decides the call's layout; a
// layout-neutral tensor holds the same bytes either way), so they are described with
// cudnnSetTensor4dDescriptor(format = NCHW | NHWC) — exactly the strides sprint uses, without cuDNN having to
// infer a format from the arbitrary strides of size-1 dimensions. Filters: KCRS = CUDNN_TENSOR_NCHW filter
// for NCHW calls; NHWC calls use an NHWC (KRSC) filter: the weights are reordered into the workspace, except
// when C/G == 1 or R·S == 1 (then the KCRS bytes are already KRSC). The compute type is float.
//
// Epilogues. Forward: cudnnConvolutionForward (beta 0) then one bias + ReLU kernel when needed
// (cudnnConvolutionBiasActivationForward restricts algorithms and bias types; the extra pass is cheap next to
// the convolution). Backward data / filter: beta = 1 accumulates (cuDNN computes alpha·result + beta·out in
// float and rounds once). The bias gradient is sprint's deterministic per-channel reduction (channel_reduce.h).
//
// Degenerate shapes cuDNN rejects are handled here: empty outputs return at once; an empty reduction (C/G == 0,
// an input with H or W == 0 but padding, N == 0 for the weight gradient, K == 0 for the data gradient) writes
// zeros (overwrite) or leaves the output alone (accumulate); the forward then applies bias + activation.
#include "sprint/backend/cuda/cudnn_conv.h"

#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <optional>

#include "sprint/backend/cuda/channel_reduce.h"
#include "sprint/backend/cuda/common.h"
#include "sprint/backend/cuda/conv_kernels.h"
#include "sprint/backend/cuda/cudnn_handle.h"
#include "sprint/backend/cuda/image.h"
#include "sprint/backend/cuda/workspace.h"
#include "sprint/core/log.h"

namespace sprint::cuda {

enum class ConvKind : int { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

namespace {

const char* kind_name(ConvKind kind) {
  switch (kind) {
    case ConvKind::kForward: return "forward";
    case ConvKind::kBackwardData: return "backward-data";
    case ConvKind::kBackwardFilter: return "backward-filter";
  }
  return "?";
}

cudnnDataType_t cudnn_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return CUDNN_DATA_FLOAT;
    case DType::kF16: return CUDNN_DATA_HALF;
    case DType::kBF16: return CUDNN_DATA_BFLOAT16;
    default:
      SPRINT_THROW(Unsupported, "conv2d on CUDA supports f32, f16 and bf16, got {} (f64 runs on the CPU only)",
                   dtype_name(dtype));
  }
}

// Math modes of the key: strict f32 (FMA only), f32 with TF32 allowed, f16/bf16 tensor cores.
constexpr int kMathFma = 0;
constexpr int kMathTf32 = 1;
constexpr int kMathTensorOp = 2;

cudnnMathType_t search_math_type(int math) {
  switch (math) {
    case kMathFma: return CUDNN_FMA_MATH;
    case kMathTf32: return CUDNN_DEFAULT_MATH;  // TF32 permitted on sm_80+
    default: return CUDNN_TENSOR_OP_MATH;
  }
}

// Largest power of two (<= 256) dividing the address; 256 for null.
int alignment_of(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  if (v == 0) return 256;
  int a = 1;
  while (a < 256 && v % (static_cast<uintptr_t>(a) * 2) == 0) a *= 2;
  return a;
}

int to_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    SPRINT_THROW(Unsupported, "conv2d on CUDA: {} = {} does not fit cuDNN's int descriptors", what, v);
  return static_cast<int>(v);
}

}  // namespace

/// One convolution to run: geometry, operands and the output. Operands by direction:
///   forward          in0 = x,  in1 = w (KCRS),  out = y
///   backward-data    in0 = dy, in1 = w (KCRS),  out = dx
///   backward-filter  in0 = x,  in1 = dy,        out = dw (KCRS), of dtype or f32 (out_dtype)
struct CudnnConv::Call {
  ConvKind kind;
  DType dtype;
  ImageLayout layout;
  int64_t n, c, h, w, k, cg, r, s, p, q;
  Conv2dParams params;
  const void* in0;
  const void* in1;
  void* out;
  bool accumulate;
  /// Backward-filter: dw's dtype when it differs from the operands' (f32 weight gradients of f16/bf16 operands).
  std::optional<DType> out_dtype = {};

  bool nhwc() const { return layout == ImageLayout::kNHWC; }
  /// NHWC with a filter whose KCRS and KRSC bytes differ: reorder through the workspace.
  bool reorder_weights() const { return nhwc() && cg > 1 && r * s > 1; }
  /// cuDNN writes the filter gradient into the workspace (in the operands' dtype, KRSC for NHWC), and a kernel
  /// stores it into dw: reordered to KCRS and/or widened to f32, added when accumulating.
  bool staged_filter_gradient() const {
    return kind == ConvKind::kBackwardFilter && (reorder_weights() || out_dtype.value_or(dtype) != dtype);
  }
  size_t weight_bytes() const { return static_cast<size_t>(k * cg * r * s) * dtype_size(dtype); }
  size_t out_bytes() const {
    const int64_t numel = kind == ConvKind::kForward ? n * k * p * q
                          : kind == ConvKind::kBackwardData ? n * c * h * w
                                                            : k * cg * r * s;
    return static_cast<size_t>(numel) * dtype_size(dtype);
  }
};

struct CudnnConv::Plan {
  cudnnTensorDescriptor_t x = nullptr;  // (N, C, H, W)
  cudnnTensorDescriptor_t y = nullptr;  // (N, K, P, Q)
  cudnnFilterDescriptor_t w = nullptr;  // (K, C/G, R, S), KCRS or KRSC
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = -1;
  cudnnMathType_t math_type = CUDNN_DEFAULT_MATH;
  size_t workspace_bytes = 0;
  bool searched = false;  // chosen by Find (false: heuristic choice made while capturing)

  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {
    if (conv) (void)cudnnDestroyConvolutionDescriptor(conv);
    if (w) (void)cudnnDestroyFilterDescriptor(w);
    if (y) (void)cudnnDestroyTensorDescriptor(y);
    if (x) (void)cudnnDestroyTensorDescriptor(x);
  }
};

namespace {

// ------------------------------------------------------------------------------------------------------------
// Algorithm selection helpers (the three directions share the perf-struct field names)
// ------------------------------------------------------------------------------------------------------------

struct Choice {
  bool ok = false;
  int algo = -1;
  cudnnMathType_t math_type = CUDNN_DEFAULT_MATH;
  size_t memory = 0;
};

template <class Perf>
bool acceptable(const Perf& perf, size_t limit, bool deterministic, int math) {
  if (perf.status != CUDNN_STATUS_SUCCESS || perf.memory > limit) return false;
  if (deterministic && perf.determinism != CUDNN_DETERMINISTIC) return false;
  // Strict f32: no tensor-core math (the descriptor is FMA-only anyway; this also drops stale entries).
  if (math == kMathFma &&
      (perf.mathType == CUDNN_TENSOR_OP_MATH || perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
    return false;
  return true;
}

/// The first acceptable result (Find sorts by time; Get_v7 by expected performance).
template <class Perf>
Choice first_acceptable(const Perf* perf, int count, size_t limit, bool deterministic, int math) {
  for (int i = 0; i < count; ++i) {
    if (!acceptable(perf[i], limit, deterministic, math)) continue;
    return {true, static_cast<int>(perf[i].algo), perf[i].mathType, perf[i].memory};
  }
  return {};
}

/// The largest workspace among acceptable heuristic candidates (what the search must offer).
template <class Perf>
size_t largest_acceptable_workspace(const Perf* perf, int count, size_t limit, bool deterministic, int math) {
  size_t bytes = 0;
  for (int i = 0; i < count; ++i)
    if (acceptable(perf[i], limit, deterministic, math)) bytes = std::max(bytes, perf[i].memory);
  return bytes;
}

/// A temporary device block for one algorithm search: allocated from the caching allocator (stream-ordered on
/// the compute stream, so `stream` first waits for it), released after `stream` has drained.
class SearchBlock {
 public:
  SearchBlock(const Stream& stream, size_t bytes) : stream_(stream), bytes_(std::max<size_t>(bytes, 256)) {
    ptr_ = stream.context().allocator().allocate(bytes_);
    order_after_compute_stream(stream);
  }
  ~SearchBlock() {
    (void)cudaStreamSynchronize(static_cast<cudaStream_t>(stream_.native_handle()));
    stream_.context().allocator().deallocate(ptr_, bytes_);
  }
  SearchBlock(const SearchBlock&) = delete;
  SearchBlock& operator=(const SearchBlock&) = delete;
  char* data() const { return static_cast<char*>(ptr_); }

 private:
  Stream stream_;
  size_t bytes_;
  void* ptr_ = nullptr;
};

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// CudnnConv
// ------------------------------------------------------------------------------------------------------------

size_t CudnnConv::KeyHash::operator()(const Key& k) const {
  size_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  for (int v : {k.kind, k.dtype, k.layout, k.math, k.deterministic, k.align}) mix(static_cast<uint64_t>(v));
  for (int64_t v : {k.n, k.c, k.h, k.w, k.k, k.r, k.s, k.p, k.q, k.stride, k.padding, k.dilation, k.groups,
                    k.workspace_limit})
    mix(static_cast<uint64_t>(v));
  return h;
}

CudnnConv::CudnnConv(DeviceContext& context) : context_(context) {
  SPRINT_CHECK(context.device().is_cuda(), "CudnnConv needs a CUDA context");
}

CudnnConv::~CudnnConv() = default;

CudnnConv::Stats CudnnConv::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s = stats_;
  s.n_plans = static_cast<int64_t>(plans_.size());
  return s;
}

void CudnnConv::set_workspace_limit(size_t n_bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  workspace_limit_ = n_bytes;
}
size_t CudnnConv::workspace_limit() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return workspace_limit_;
}
void CudnnConv::clear_plans() {
  std::lock_guard<std::mutex> lock(mutex_);
  plans_.clear();
}

// Called with the cuDNN handle leased (bound to `stream`) and mutex_ held.
CudnnConv::Plan& CudnnConv::plan_for(const Stream& stream, void* handle_ptr, const Call& call, bool capturing) {
  const auto handle = static_cast<cudnnHandle_t>(handle_ptr);
  Key key{};
  key.kind = static_cast<int>(call.kind);
  key.dtype = static_cast<int>(call.dtype);
  key.layout = static_cast<int>(call.layout);
  const Numerics numerics = context_.numerics();
  key.math = call.dtype == DType::kF32 ? (numerics.allow_tf32 ? kMathTf32 : kMathFma) : kMathTensorOp;
  key.deterministic = numerics.deterministic ? 1 : 0;
  key.align = std::min({alignment_of(call.in0), alignment_of(call.in1), alignment_of(call.out)});
  key.n = call.n;
  key.c = call.c;
  key.h = call.h;
  key.w = call.w;
  key.k = call.k;
  key.r = call.r;
  key.s = call.s;
  key.p = call.p;
  key.q = call.q;
  key.stride = call.params.stride;
  key.padding = call.params.padding;
  key.dilation = call.params.dilation;
  key.groups = call.params.groups;
  key.workspace_limit = static_cast<int64_t>(workspace_limit_);

  auto it = plans_.find(key);
  if (it != plans_.end() && (it->second->searched || capturing)) {
    ++stats_.hits;
    return *it->second;
  }
  ++stats_.misses;
  // A new plan, or the upgrade of a heuristic choice made during a capture (replaced only on success).
  auto fresh = std::make_unique<Plan>();
  Plan* plan = fresh.get();
  {
    const cudnnDataType_t type = cudnn_type(call.dtype);
    const cudnnTensorFormat_t format = call.nhwc() ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    SPRINT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x));
    SPRINT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y));
    SPRINT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
    SPRINT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
    SPRINT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->x, format, type, to_int(call.n, "N"), to_int(call.c, "C"),
                                                  to_int(call.h, "H"), to_int(call.w, "W")));
    SPRINT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->y, format, type, to_int(call.n, "N"), to_int(call.k, "K"),
                                                  to_int(call.p, "P"), to_int(call.q, "Q")));
    SPRINT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, type, format, to_int(call.k, "K"),
                                                  to_int(call.cg, "C/groups"), to_int(call.r, "R"),
                                                  to_int(call.s, "S")));
    const int pad = to_int(call.params.padding, "padding"), stride = to_int(call.params.stride, "stride");
    const int dilation = to_int(call.params.dilation, "dilation");
    SPRINT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv, pad, pad, stride, stride, dilation, dilation,
                                                       CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    SPRINT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan->conv, to_int(call.params.groups, "groups")));
    // cuDNN must agree with sprint on the output extent.
    int on = 0, oc = 0, oh = 0, ow = 0;
    SPRINT_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->x, plan->w, &on, &oc, &oh, &ow));
    SPRINT_CHECK(on == call.n && oc == call.k && oh == call.p && ow == call.q,
                 "conv2d: cuDNN computes a ({}, {}, {}, {}) output, sprint expects ({}, {}, {}, {})", on, oc, oh, ow,
                 call.n, call.k, call.p, call.q);
  }
  const int math = key.math;
  bool deterministic = key.deterministic != 0;
  const size_t limit = workspace_limit_;
  SPRINT_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, search_math_type(math)));

  // Heuristic candidates: the choice while capturing, and the size of the search workspace otherwise.
  cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT] = {};
  cudnnConvolutionBwdDataAlgoPerf_t bwd_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT] = {};
  cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT] = {};
  int returned = 0;
  Choice heuristic;
  size_t search_bytes = 0;
  switch (call.kind) {
    case ConvKind::kForward:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, plan->x, plan->w, plan->conv, plan->y,
                                                                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, fwd));
      break;
    case ConvKind::kBackwardData:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
          handle, plan->w, plan->y, plan->conv, plan->x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
          bwd_data));
      break;
    case ConvKind::kBackwardFilter:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
          handle, plan->x, plan->y, plan->conv, plan->w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
          bwd_filter));
      break;
  }
  auto rank_heuristics = [&] {
    switch (call.kind) {
      case ConvKind::kForward:
        heuristic = first_acceptable(fwd, returned, limit, deterministic, math);
        search_bytes = largest_acceptable_workspace(fwd, returned, limit, deterministic, math);
        break;
      case ConvKind::kBackwardData:
        heuristic = first_acceptable(bwd_data, returned, limit, deterministic, math);
        search_bytes = largest_acceptable_workspace(bwd_data, returned, limit, deterministic, math);
        break;
      case ConvKind::kBackwardFilter:
        heuristic = first_acceptable(bwd_filter, returned, limit, deterministic, math);
        search_bytes = largest_acceptable_workspace(bwd_filter, returned, limit, deterministic, math);
        break;
    }
  };
  rank_heuristics();
  if (!heuristic.ok && deterministic) {
    // Some layout/dtype/math combinations (e.g. strict-f32 NHWC backward-filter) have no deterministic algorithm:
    // training must still run, so fall back to the non-deterministic ones and say so.
    log_warn("cuDNN offers no deterministic {} algorithm for a {} {} conv2d (x {}x{}x{}x{}, w {}x{}x{}x{}); using "
             "a non-deterministic one",
             kind_name(call.kind), dtype_name(call.dtype), call.nhwc() ? "NHWC" : "NCHW", call.n, call.c, call.h,
             call.w, call.k, call.cg, call.r, call.s);
    deterministic = false;
    ++stats_.n_nondeterministic;
    rank_heuristics();
  }

  Choice chosen;
  if (!capturing) {
    // Search on the call's real inputs. Scratch block: [KRSC weights | output | search workspace].
    const size_t weight_region = call.reorder_weights() && call.kind != ConvKind::kBackwardFilter
                                     ? StreamWorkspace::align_up(call.weight_bytes())
                                     : 0;
    const bool scratch_out = call.kind != ConvKind::kForward;  // never clobber an accumulate-mode output
    // The scratch output keeps the real output's offset modulo 256, so the algorithm sees the same alignment.
    const size_t out_shift = scratch_out ? reinterpret_cast<uintptr_t>(call.out) % StreamWorkspace::kAlign : 0;
    const size_t out_region = scratch_out ? StreamWorkspace::align_up(call.out_bytes() + out_shift) : 0;
    std::unique_ptr<SearchBlock> block;
    size_t ws_bytes = search_bytes;
    while (true) {  // on OutOfMemory, search with less workspace
      try {
        block = std::make_unique<SearchBlock>(stream, weight_region + out_region + ws_bytes);
        break;
      } catch (const OutOfMemory&) {
        if (ws_bytes == 0) throw;
        const size_t next = ws_bytes < (size_t{2} << 20) ? 0 : ws_bytes / 2;
        log_warn("cuDNN {} conv search: no memory for a {} MiB workspace, trying {} MiB", kind_name(call.kind),
                 ws_bytes >> 20, next >> 20);
        ws_bytes = next;
      }
    }
    search_bytes = ws_bytes;
    const cudaStream_t native = stream_of(stream);
    const void* weights = call.in1;
    if (weight_region > 0) {
      launch_kcrs_to_krsc(native, call.dtype, call.in1, block->data(), call.k, call.cg, call.r, call.s);
      weights = block->data();
    }
    void* out = scratch_out ? block->data() + weight_region + out_shift : call.out;
    void* ws = block->data() + weight_region + out_region;
    int found = 0;
    cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
    switch (call.kind) {
      case ConvKind::kForward:
        status = cudnnFindConvolutionForwardAlgorithmEx(handle, plan->x, call.in0, plan->w, weights, plan->conv,
                                                        plan->y, out, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found,
                                                        fwd, ws, search_bytes);
        if (status == CUDNN_STATUS_SUCCESS) chosen = first_acceptable(fwd, found, search_bytes, deterministic, math);
        break;
      case ConvKind::kBackwardData:
        status = cudnnFindConvolutionBackwardDataAlgorithmEx(
            handle, plan->w, weights, plan->y, call.in0, plan->conv, plan->x, out,
            CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &found, bwd_data, ws, search_bytes);
        if (status == CUDNN_STATUS_SUCCESS)
          chosen = first_acceptable(bwd_data, found, search_bytes, deterministic, math);
        break;
      case ConvKind::kBackwardFilter:
        status = cudnnFindConvolutionBackwardFilterAlgorithmEx(
            handle, plan->x, call.in0, plan->y, call.in1, plan->conv, plan->w, out,
            CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &found, bwd_filter, ws, search_bytes);
        if (status == CUDNN_STATUS_SUCCESS)
          chosen = first_acceptable(bwd_filter, found, search_bytes, deterministic, math);
        break;
    }
    ++stats_.n_finds;
    if (status != CUDNN_STATUS_SUCCESS) {
      (void)cudaGetLastError();
      log_warn("cuDNN {} conv search failed ({}); using the heuristic choice", kind_name(call.kind),
               cudnnGetErrorString(status));
    }
  }
  if (!chosen.ok) {
    chosen = heuristic;
    ++stats_.n_heuristic_choices;
  }
  if (!chosen.ok)
    SPRINT_THROW(BackendError,
                 "cuDNN has no {}{} algorithm for a {} {} conv2d: x ({}, {}, {}, {}), w ({}, {}, {}, {}), stride {}, "
                 "padding {}, dilation {}, groups {} (workspace limit {} MiB)",
                 deterministic ? "deterministic " : "", kind_name(call.kind), dtype_name(call.dtype),
                 call.nhwc() ? "NHWC" : "NCHW", call.n, call.c, call.h, call.w, call.k, call.cg, call.r, call.s,
                 call.params.stride, call.params.padding, call.params.dilation, call.params.groups, limit >> 20);

  // Run with the math type the algorithm was timed with; strict f32 stays FMA-only.
  plan->algo = chosen.algo;
  plan->math_type = math == kMathFma ? CUDNN_FMA_MATH : chosen.math_type;
  SPRINT_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, plan->math_type));
  size_t bytes = 0;
  switch (call.kind) {
    case ConvKind::kForward:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
          handle, plan->x, plan->w, plan->conv, plan->y, static_cast<cudnnConvolutionFwdAlgo_t>(plan->algo), &bytes));
      break;
    case ConvKind::kBackwardData:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
          handle, plan->w, plan->y, plan->conv, plan->x, static_cast<cudnnConvolutionBwdDataAlgo_t>(plan->algo),
          &bytes));
      break;
    case ConvKind::kBackwardFilter:
      SPRINT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
          handle, plan->x, plan->y, plan->conv, plan->w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan->algo),
          &bytes));
      break;
  }
  plan->workspace_bytes = std::max(bytes, chosen.memory);
  plan->searched = !capturing;  // a failed search is not retried: its heuristic fallback stays
  log_debug("cuDNN {} conv2d {} {} x ({}, {}, {}, {}) w ({}, {}, {}, {}) stride {} padding {} dilation {} groups {}: "
            "algo {} (math type {}, workspace {} bytes, {})",
            kind_name(call.kind), dtype_name(call.dtype), call.nhwc() ? "NHWC" : "NCHW", call.n, call.c, call.h,
            call.w, call.k, call.cg, call.r, call.s, call.params.stride, call.params.padding, call.params.dilation,
            call.params.groups, plan->algo, static_cast<int>(plan->math_type), plan->workspace_bytes,
            capturing ? "heuristic, capturing" : "searched");
  if (it != plans_.end()) {
    it->second = std::move(fresh);
    return *it->second;
  }
  return *plans_.emplace(key, std::move(fresh)).first->second;
}

void CudnnConv::run(const Stream& stream, const Call& call) {
  const cudaStream_t native = stream_of(stream);
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  SPRINT_CUDA_CHECK(cudaStreamIsCapturing(native, &capture));
  const bool capturing = capture != cudaStreamCaptureStatusNone;

  CudnnHandle::Lease handle = context_.extension<CudnnHandle>().acquire(stream);
  std::lock_guard<std::mutex> lock(mutex_);
  const Plan& plan = plan_for(stream, handle.get(), call, capturing);

  // Workspace: [KRSC weights (or the staged dw) | cuDNN workspace].
  const bool staged = call.staged_filter_gradient();
  const size_t weight_region =
      call.reorder_weights() || staged ? StreamWorkspace::align_up(call.weight_bytes()) : 0;
  char* ws = static_cast<char*>(
      context_.extension<StreamWorkspace>().get(stream, weight_region + std::max<size_t>(plan.workspace_bytes, 1)));
  void* cudnn_ws = plan.workspace_bytes > 0 ? ws + weight_region : nullptr;
  const float one = 1.0f, zero = 0.0f;
  const float* beta = call.accumulate ? &one : &zero;
  switch (call.kind) {
    case ConvKind::kForward: {
      const void* weights = call.in1;
      if (weight_region > 0) {
        launch_kcrs_to_krsc(native, call.dtype, call.in1, ws, call.k, call.cg, call.r, call.s);
        weights = ws;
      }
      SPRINT_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, plan.x, call.in0, plan.w, weights, plan.conv,
                                                 static_cast<cudnnConvolutionFwdAlgo_t>(plan.algo), cudnn_ws,
                                                 plan.workspace_bytes, &zero, plan.y, call.out));
      break;
    }
    case ConvKind::kBackwardData: {
      const void* weights = call.in1;
      if (weight_region > 0) {
        launch_kcrs_to_krsc(native, call.dtype, call.in1, ws, call.k, call.cg, call.r, call.s);
        weights = ws;
      }
      SPRINT_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &one, plan.w, weights, plan.y, call.in0, plan.conv,
                                                      static_cast<cudnnConvolutionBwdDataAlgo_t>(plan.algo),
                                                      cudnn_ws, plan.workspace_bytes, beta, plan.x, call.out));
      break;
    }
    case ConvKind::kBackwardFilter: {
      if (staged) {  // dw in the workspace, then reordered / widened (and accumulated) into KCRS
        SPRINT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            handle, &one, plan.x, call.in0, plan.y, call.in1, plan.conv,
            static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), cudnn_ws, plan.workspace_bytes, &zero, plan.w,
            ws));
        launch_filter_gradient_to_kcrs(native, call.dtype, ws, call.out_dtype.value_or(call.dtype), call.out, call.k,
                                       call.cg, call.r, call.s, call.reorder_weights(), call.accumulate);
      } else {
        SPRINT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(
            handle, &one, plan.x, call.in0, plan.y, call.in1, plan.conv,
            static_cast<cudnnConvolutionBwdFilterAlgo_t>(plan.algo), cudnn_ws, plan.workspace_bytes, beta, plan.w,
            call.out));
      }
      break;
    }
  }
}

// ------------------------------------------------------------------------------------------------------------
// Entry points (called through cuda::conv2d_*)
// ------------------------------------------------------------------------------------------------------------

namespace {

struct Geometry {
  int64_t n, c, h, w, k, cg, r, s, p, q;
};

/// x-side (N, C, H, W), weights (K, C/G, R, S) and y-side (N, K, P, Q) shapes, checked against each other.
Geometry check_geometry(const Tensor& x_side, const Tensor& w, const Tensor& y_side, const Conv2dParams& prm,
                        const char* op) {
  SPRINT_CHECK(x_side.ndim() == 4 && w.ndim() == 4 && y_side.ndim() == 4, "{}: x, w and y must be 4-D", op);
  SPRINT_CHECK(w.is_contiguous(), "{}: w must be contiguous KCRS, got {}", op, w.description());
  SPRINT_CHECK(prm.stride >= 1 && prm.padding >= 0 && prm.dilation >= 1 && prm.groups >= 1,
               "{}: bad stride {}, padding {}, dilation {}, groups {}", op, prm.stride, prm.padding, prm.dilation,
               prm.groups);
  Geometry g{x_side.dim(0), x_side.dim(1), x_side.dim(2), x_side.dim(3), w.dim(0),
             w.dim(1),      w.dim(2),      w.dim(3),      y_side.dim(2), y_side.dim(3)};
  SPRINT_CHECK(g.c % prm.groups == 0 && g.k % prm.groups == 0 && g.cg == g.c / prm.groups &&
                   y_side.dim(0) == g.n && y_side.dim(1) == g.k && g.p == conv2d_output_size(g.h, g.r, prm) &&
                   g.q == conv2d_output_size(g.w, g.s, prm),
               "{}: x {}, w {} and y {} do not match (stride {}, padding {}, dilation {}, groups {})", op,
               x_side.description(), w.description(), y_side.description(), prm.stride, prm.padding, prm.dilation,
               prm.groups);
  return g;
}

void check_dtype(const Tensor& t, DType dtype, const char* name, const char* op) {
  SPRINT_CHECK(t.dtype() == dtype, "{}: {} must be {}, got {}", op, name, dtype_name(dtype), t.description());
}

/// cuDNN's legacy descriptors index with int: every tensor must have fewer than 2^31 elements.
void check_int_sized(std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors)
    if (t->defined() && t->numel() > INT_MAX)
      SPRINT_THROW(Unsupported, "{} on CUDA: {} has more than 2^31 - 1 elements (split the batch)", op,
                   t->description());
}

void zero(const Tensor& t, cudaStream_t stream) {
  if (t.numel() > 0) SPRINT_CUDA_CHECK(cudaMemsetAsync(t.data(), 0, t.n_bytes(), stream));
}

}  // namespace

void CudnnConv::forward(const Stream& stream, const Conv2dForwardArgs& a) {
  constexpr const char* op = "conv2d_forward";
  const cudaStream_t native = stream_of(stream);
  const DType dtype = a.x.dtype();
  (void)cudnn_type(dtype);
  const Geometry g = check_geometry(a.x, a.w, a.y, a.params, op);
  check_dtype(a.w, dtype, "w", op);
  check_dtype(a.y, dtype, "y", op);
  if (a.b.defined())
    SPRINT_CHECK(a.b.ndim() == 1 && a.b.dim(0) == g.k && a.b.dtype() == dtype && a.b.is_contiguous(),
                 "{}: bias must be a contiguous {} ({}) tensor, got {}", op, dtype_name(dtype), g.k, a.b.description());
  const ImageLayout layout = image_layout({&a.x, &a.y}, op);
  if (a.y.numel() == 0) return;
  bool relu = false;
  switch (a.activation) {
    case Activation::kNone: break;
    case Activation::kReLU: relu = true; break;
  }
  const void* bias = a.b.defined() ? a.b.data() : nullptr;
  if (a.x.numel() == 0 || a.w.numel() == 0) {  // empty sum: y = act(b)
    zero(a.y, native);
    launch_bias_activation_4d(native, dtype, layout, a.y.data(), bias, g.n, g.k, g.p * g.q, relu);
    return;
  }
  check_int_sized({&a.x, &a.w, &a.y}, op);
  run(stream, Call{ConvKind::kForward, dtype, layout, g.n, g.c, g.h, g.w, g.k, g.cg, g.r, g.s, g.p, g.q, a.params,
                   a.x.data(), a.w.data(), a.y.data(), false});
  launch_bias_activation_4d(native, dtype, layout, a.y.data(), bias, g.n, g.k, g.p * g.q, relu);
}

void CudnnConv::backward_data(const Stream& stream, const Conv2dBackwardDataArgs& a) {
  constexpr const char* op = "conv2d_backward_data";
  const cudaStream_t native = stream_of(stream);
  const DType dtype = a.dy.dtype();
  (void)cudnn_type(dtype);
  const Geometry g = check_geometry(a.dx, a.w, a.dy, a.params, op);
  check_dtype(a.w, dtype, "w", op);
  check_dtype(a.dx, dtype, "dx", op);
  const ImageLayout layout = image_layout({&a.dx, &a.dy}, op);
  const bool accumulate = a.mode == GradMode::kAccumulate;
  if (a.dx.numel() == 0) return;
  if (a.dy.numel() == 0 || a.w.numel() == 0) {  // empty sum
    if (!accumulate) zero(a.dx, native);
    return;
  }
  check_int_sized({&a.dx, &a.w, &a.dy}, op);
  run(stream, Call{ConvKind::kBackwardData, dtype, layout, g.n, g.c, g.h, g.w, g.k, g.cg, g.r, g.s, g.p, g.q,
                   a.params, a.dy.data(), a.w.data(), a.dx.data(), accumulate});
}

void CudnnConv::backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& a) {
  constexpr const char* op = "conv2d_backward_weight";
  const cudaStream_t native = stream_of(stream);
  const DType dtype = a.dy.dtype();
  (void)cudnn_type(dtype);
  SPRINT_CHECK(a.dw.defined() || a.db.defined(), "{}: neither dw nor db was given", op);
  SPRINT_CHECK(a.x.ndim() == 4 && a.dy.ndim() == 4 && a.dy.dim(0) == a.x.dim(0), "{}: x {} and dy {} do not match",
               op, a.x.description(), a.dy.description());
  check_dtype(a.x, dtype, "x", op);
  const ImageLayout layout = image_layout({&a.x, &a.dy}, op);
  const bool accumulate = a.mode == GradMode::kAccumulate;
  // Parameter gradients: the operands' dtype, or f32 beside f16/bf16 operands (mixed precision).
  const DType grad_dtype = a.dw.defined() ? a.dw.dtype() : a.db.dtype();
  SPRINT_CHECK(grad_dtype == dtype || grad_dtype == DType::kF32,
               "{}: {} operands have {} or f32 parameter gradients, got {}", op, dtype_name(dtype), dtype_name(dtype),
               dtype_name(grad_dtype));
  if (a.dw.defined()) {
    const Geometry g = check_geometry(a.x, a.dw, a.dy, a.params, op);
    check_dtype(a.dw, grad_dtype, "dw", op);
    if (a.dw.numel() > 0) {
      if (a.x.numel() == 0 || a.dy.numel() == 0) {  // empty sum
        if (!accumulate) zero(a.dw, native);
      } else {
        check_int_sized({&a.x, &a.dw, &a.dy}, op);
        run(stream, Call{ConvKind::kBackwardFilter, dtype, layout, g.n, g.c, g.h, g.w, g.k, g.cg, g.r, g.s, g.p,
                         g.q, a.params, a.x.data(), a.dy.data(), a.dw.data(), accumulate, grad_dtype});
      }
    }
  }
  if (a.db.defined()) {
    const int64_t k = a.dy.dim(1);
    SPRINT_CHECK(a.db.ndim() == 1 && a.db.dim(0) == k && a.db.dtype() == grad_dtype && a.db.is_contiguous(),
                 "{}: db must be a contiguous {} ({}) tensor, got {}", op, dtype_name(grad_dtype), k,
                 a.db.description());
    launch_bias_grad(stream, dtype, layout, a.dy.numel() > 0 ? a.dy.data() : nullptr, a.dy.dim(0), k,
                     a.dy.dim(2) * a.dy.dim(3), grad_dtype, a.db.data(), accumulate);
  }
}

void conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args) {
  OpScope scope(stream, "cuda.conv2d_forward");
  stream.context().extension<CudnnConv>().forward(stream, args);
}

void conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args) {
  OpScope scope(stream, "cuda.conv2d_backward_data");
  stream.context().extension<CudnnConv>().backward_data(stream, args);
}

void conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args) {
  OpScope scope(stream, "cuda.conv2d_backward_weight");
  stream.context().extension<CudnnConv>().backward_weight(stream, args);
}

}  // namespace sprint::cuda
