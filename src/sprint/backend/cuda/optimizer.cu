// optimizer.cu (CUDA): fused multi-tensor SGD and Adam/AdamW. Same formulas as backend/cpu/optimizer.cpp, in
// float arithmetic. One launch covers up to kMaxTensors tensors (a typical model: one launch per step): the
// tensor list travels by value in the kernel parameters (a MultiTensorPack under the classic 4 KiB parameter
// limit, read in place through __grid_constant__), so there is no host synchronisation and no device buffer
// to upload, and the launch can be captured in a CUDA graph. Each block processes one kChunk-element chunk of
// one tensor; the block finds its tensor by binary search over the chunk offsets in the pack. Each tensor may
// be f32, f16 or bf16 independently for parameter, gradient and state (math in float); a mixed-precision entry
// also writes its updated f32 parameter, rounded, into its compute copy.
#include "sprint/backend/api/optimizer.h"

#include <cmath>
#include <limits>
#include <span>

#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

constexpr int kMaxTensors = 56;
constexpr int kChunk = 4096;  // elements per block
constexpr int kOptThreads = 256;

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

struct TensorEntry {
  void* param;
  const void* grad;
  void* state1;  // SGD: momentum buffer (or null); Adam: exp_avg
  void* state2;  // Adam: exp_avg_sq
  void* copy;    // mixed precision: the compute copy written from the updated f32 parameter, or null
  const void* mask;  // sparse training: the parameter's dtype, 1 = train the entry; or null
  int64_t n;
  int32_t first_chunk;  // index of this tensor's first chunk in the launch
  uint8_t param_dtype;
  uint8_t grad_dtype;
  uint8_t state_dtype;
  uint8_t copy_dtype;
};
static_assert(sizeof(TensorEntry) == 64, "TensorEntry layout");

// `step` (optional, device f64 (kStepValueCount)): read when the kernel runs and then replaces lr, momentum,
// grad_scale (and Adam's step size and bias correction), so that a captured graph follows a changing schedule.
struct SgdDeviceHyper {
  float lr, weight_decay, momentum, one_minus_dampening, grad_scale, lr_scale;
  int use_momentum, nesterov, first_step, mask_freeze;
  const double* step;
};

struct AdamDeviceHyper {
  float lr, beta1, beta2, eps, weight_decay, step_size, inv_sqrt_bias_correction2, grad_scale, lr_scale;
  int decoupled, mask_freeze;
  const double* step;
};

/// The per-step values a kernel uses: from the step tensor when given (one read per thread, cached in L1/L2).
struct SgdStep {
  float lr, momentum, grad_scale;
};
__device__ __forceinline__ SgdStep sgd_step(const SgdDeviceHyper& h) {
  if (h.step == nullptr) return {h.lr, h.momentum, h.grad_scale};
  return {static_cast<float>(h.step[static_cast<int>(StepValue::kLr)]) * h.lr_scale,
          static_cast<float>(h.step[static_cast<int>(StepValue::kMomentum)]),
          static_cast<float>(h.step[static_cast<int>(StepValue::kGradScale)])};
}
struct AdamStep {
  float lr, beta1, step_size, inv_sqrt_bias_correction2, grad_scale;
};
__device__ __forceinline__ AdamStep adam_step(const AdamDeviceHyper& h) {
  if (h.step == nullptr) return {h.lr, h.beta1, h.step_size, h.inv_sqrt_bias_correction2, h.grad_scale};
  const double t = h.step[static_cast<int>(StepValue::kStep)];
  const double lr = h.step[static_cast<int>(StepValue::kLr)] * static_cast<double>(h.lr_scale);
  const double beta1 = h.step[static_cast<int>(StepValue::kMomentum)];
  const double bc1 = 1.0 - pow(beta1, t), bc2 = 1.0 - pow(static_cast<double>(h.beta2), t);
  return {static_cast<float>(lr), static_cast<float>(beta1), static_cast<float>(lr / bc1),
          static_cast<float>(rsqrt(bc2)), static_cast<float>(h.step[static_cast<int>(StepValue::kGradScale)])};
}

template <class Hyper>
struct MultiTensorPack {
  TensorEntry entries[kMaxTensors];
  int n_entries;
  int n_chunks;
  Hyper hyper;
};
static_assert(sizeof(MultiTensorPack<SgdDeviceHyper>) <= 4000, "kernel parameters must stay under 4 KiB");
static_assert(sizeof(MultiTensorPack<AdamDeviceHyper>) <= 4000, "kernel parameters must stay under 4 KiB");

__device__ __forceinline__ float load_any(const void* p, int64_t i, int dtype) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void store_any(void* p, int64_t i, int dtype, float v) {
  switch (static_cast<DType>(dtype)) {
    case DType::kF16: static_cast<__half*>(p)[i] = __float2half_rn(v); return;
    case DType::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); return;
    default: static_cast<float*>(p)[i] = v; return;
  }
}

// The entry owning chunk `c`: the last one whose first_chunk <= c (first_chunk strictly increases from 0).
template <class Pack>
__device__ __forceinline__ const TensorEntry& entry_of_chunk(const Pack& pack, int c) {
  int lo = 0, hi = pack.n_entries - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (pack.entries[mid].first_chunk <= c)
      lo = mid;
    else
      hi = mid - 1;
  }
  return pack.entries[lo];
}

__global__ void __launch_bounds__(kOptThreads)
    sgd_kernel(const __grid_constant__ MultiTensorPack<SgdDeviceHyper> pack) {
  const TensorEntry& e = entry_of_chunk(pack, static_cast<int>(blockIdx.x));
  const SgdDeviceHyper& h = pack.hyper;
  const SgdStep st = sgd_step(h);
  const int64_t begin = static_cast<int64_t>(static_cast<int>(blockIdx.x) - e.first_chunk) * kChunk;
  const int64_t end = begin + kChunk < e.n ? begin + kChunk : e.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    float keep = 1.0f;
    if (e.mask != nullptr) {
      keep = load_any(e.mask, i, e.param_dtype);
      if (h.mask_freeze && keep == 0.0f) {  // untouched; a buffer made now holds no stale memory
        if (h.use_momentum && h.first_step) store_any(e.state1, i, e.state_dtype, 0.0f);
        continue;
      }
      if (h.mask_freeze) keep = 1.0f;
    }
    float p = load_any(e.param, i, e.param_dtype);
    const float d = st.grad_scale * keep * load_any(e.grad, i, e.grad_dtype) + h.weight_decay * p;
    float step = d;
    if (h.use_momentum) {
      const float b =
          h.first_step ? d : st.momentum * load_any(e.state1, i, e.state_dtype) + h.one_minus_dampening * d;
      store_any(e.state1, i, e.state_dtype, b);
      step = h.nesterov ? d + st.momentum * b : b;
    }
    p -= st.lr * step;
    store_any(e.param, i, e.param_dtype, p);
    if (e.copy != nullptr) store_any(e.copy, i, e.copy_dtype, p);
  }
}

__global__ void __launch_bounds__(kOptThreads)
    adam_kernel(const __grid_constant__ MultiTensorPack<AdamDeviceHyper> pack) {
  const TensorEntry& e = entry_of_chunk(pack, static_cast<int>(blockIdx.x));
  const AdamDeviceHyper& h = pack.hyper;
  const AdamStep st = adam_step(h);
  const int64_t begin = static_cast<int64_t>(static_cast<int>(blockIdx.x) - e.first_chunk) * kChunk;
  const int64_t end = begin + kChunk < e.n ? begin + kChunk : e.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    float keep = 1.0f;
    if (e.mask != nullptr) {
      keep = load_any(e.mask, i, e.param_dtype);
      if (h.mask_freeze && keep == 0.0f) continue;  // the moments are made as zeros: nothing to clear
      if (h.mask_freeze) keep = 1.0f;
    }
    float p = load_any(e.param, i, e.param_dtype);
    float g = st.grad_scale * keep * load_any(e.grad, i, e.grad_dtype);
    if (h.decoupled)
      p -= st.lr * h.weight_decay * p;
    else
      g += h.weight_decay * p;
    const float m = st.beta1 * load_any(e.state1, i, e.state_dtype) + (1.0f - st.beta1) * g;
    const float v = h.beta2 * load_any(e.state2, i, e.state_dtype) + (1.0f - h.beta2) * g * g;
    store_any(e.state1, i, e.state_dtype, m);
    store_any(e.state2, i, e.state_dtype, v);
    p -= st.step_size * m / (sqrtf(v) * st.inv_sqrt_bias_correction2 + h.eps);
    store_any(e.param, i, e.param_dtype, p);
    if (e.copy != nullptr) store_any(e.copy, i, e.copy_dtype, p);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

// Entry i's compute copy (mixed precision), if any.
void set_copy(TensorEntry& e, std::span<const Tensor> copies, size_t i, const char* op) {
  e.copy = nullptr;
  e.copy_dtype = static_cast<uint8_t>(DType::kF32);
  if (copies.empty() || !copies[i].defined()) return;
  const Tensor& c = copies[i];
  SPRINT_CHECK(c.is_contiguous() && c.numel() == e.n && is_cuda_floating(c.dtype()),
               "{}: compute copy {} is {}, its parameter has {} elements", op, i, c.description(), e.n);
  e.copy = c.data();
  e.copy_dtype = static_cast<uint8_t>(c.dtype());
}

// Entry i's update mask (sparse training), if any: the parameter's dtype and size (ops/ checked the layout).
void set_mask(TensorEntry& e, std::span<const Tensor> masks, size_t i, const char* op) {
  e.mask = nullptr;
  if (masks.empty() || !masks[i].defined()) return;
  const Tensor& m = masks[i];
  SPRINT_CHECK(m.is_contiguous() && m.numel() == e.n && static_cast<uint8_t>(m.dtype()) == e.param_dtype,
               "{}: update mask {} is {}, its parameter has {} elements", op, i, m.description(), e.n);
  e.mask = m.data();
}

uint8_t checked_dtype(const Tensor& t, const char* what, const char* op) {
  SPRINT_CHECK(t.defined() && t.is_contiguous(), "{}: {} must be a defined contiguous tensor", op, what);
  if (!is_cuda_floating(t.dtype()))
    SPRINT_THROW(Unsupported, "{} on CUDA supports f32, f16 and bf16 tensors; {} is {}", op, what,
                 t.description());
  return static_cast<uint8_t>(t.dtype());
}

/// Fills packs of up to kMaxTensors entries and launches `launch(pack)` for each full pack and at the end.
template <class Hyper, class Launch>
class PackBuilder {
 public:
  PackBuilder(const Hyper& hyper, Launch launch) : launch_(launch) {
    pack_.n_entries = 0;
    pack_.n_chunks = 0;
    pack_.hyper = hyper;
  }

  void add(TensorEntry e) {
    if (e.n == 0) return;
    const int64_t chunks = (e.n + kChunk - 1) / kChunk;
    SPRINT_CHECK(chunks <= std::numeric_limits<int32_t>::max(), "tensor of {} elements is too large", e.n);
    if (pack_.n_entries == kMaxTensors || pack_.n_chunks + chunks > std::numeric_limits<int32_t>::max())
      flush();
    e.first_chunk = pack_.n_chunks;
    pack_.entries[pack_.n_entries++] = e;
    pack_.n_chunks += static_cast<int32_t>(chunks);
  }

  void flush() {
    if (pack_.n_entries == 0) return;
    launch_(pack_);
    pack_.n_entries = 0;
    pack_.n_chunks = 0;
  }

 private:
  MultiTensorPack<Hyper> pack_{};
  Launch launch_;
};

__global__ void step_values_select_kernel(const double* table, int64_t rows, int64_t* cursor, double* out) {
  const int64_t c = *cursor;
  const int64_t row = c < 0 ? 0 : (c >= rows ? rows - 1 : c);
  if (threadIdx.x < kStepValueCount) out[threadIdx.x] = table[row * kStepValueCount + threadIdx.x];
  __syncthreads();
  if (threadIdx.x == 0) *cursor = c + 1;
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void sgd_update(const Stream& s, const SgdUpdateArgs& a) {
  OpScope scope(s, "cuda.sgd_update");
  const bool with_momentum = a.hyper.momentum != 0.0;
  SPRINT_CHECK(a.grads.size() == a.params.size(), "sgd_update: {} gradients for {} parameters",
               a.grads.size(), a.params.size());
  SPRINT_CHECK(!with_momentum || a.momentum_buffers.size() == a.params.size(),
               "sgd_update: {} momentum buffers for {} parameters", a.momentum_buffers.size(),
               a.params.size());
  SgdDeviceHyper h{};
  h.lr = static_cast<float>(a.hyper.lr * a.hyper.lr_scale);
  h.lr_scale = static_cast<float>(a.hyper.lr_scale);
  h.step = a.step_values.defined() ? a.step_values.data_as<double>() : nullptr;
  h.weight_decay = static_cast<float>(a.hyper.weight_decay);
  h.momentum = static_cast<float>(a.hyper.momentum);
  h.one_minus_dampening = static_cast<float>(1.0 - a.hyper.dampening);
  h.grad_scale = static_cast<float>(a.hyper.grad_scale);
  h.use_momentum = with_momentum ? 1 : 0;
  h.nesterov = a.hyper.nesterov ? 1 : 0;
  h.first_step = a.first_step ? 1 : 0;
  h.mask_freeze = a.mask_mode == UpdateMaskMode::kFreeze ? 1 : 0;
  const cudaStream_t stream = scope.stream();
  auto launch = [stream](const MultiTensorPack<SgdDeviceHyper>& pack) {
    sgd_kernel<<<static_cast<unsigned>(pack.n_chunks), kOptThreads, 0, stream>>>(pack);
    SPRINT_CUDA_CHECK_LAUNCH("sgd_kernel");
  };
  PackBuilder<SgdDeviceHyper, decltype(launch)> builder(h, launch);
  for (size_t i = 0; i < a.params.size(); ++i) {
    const Tensor& p = a.params[i];
    const Tensor& g = a.grads[i];
    TensorEntry e{};
    e.param = p.data();
    e.grad = g.data();
    e.n = p.numel();
    e.param_dtype = checked_dtype(p, "parameter", "sgd_update");
    e.grad_dtype = checked_dtype(g, "gradient", "sgd_update");
    SPRINT_CHECK(g.numel() == e.n, "sgd_update: gradient {} has {} elements, parameter {}", i, g.numel(),
                 e.n);
    if (with_momentum) {
      const Tensor& b = a.momentum_buffers[i];
      e.state1 = b.data();
      e.state_dtype = checked_dtype(b, "momentum buffer", "sgd_update");
      SPRINT_CHECK(b.numel() == e.n, "sgd_update: momentum buffer {} has {} elements, parameter {}", i,
                   b.numel(), e.n);
    } else {
      e.state1 = nullptr;
      e.state_dtype = static_cast<uint8_t>(DType::kF32);
    }
    e.state2 = nullptr;
    set_copy(e, a.compute_copies, i, "sgd_update");
    set_mask(e, a.masks, i, "sgd_update");
    builder.add(e);
  }
  builder.flush();
}

void adam_update(const Stream& s, const AdamUpdateArgs& a) {
  OpScope scope(s, "cuda.adam_update");
  const size_t n = a.params.size();
  SPRINT_CHECK(a.grads.size() == n && a.exp_avg.size() == n && a.exp_avg_sq.size() == n,
               "adam_update: {} parameters but {} gradients, {} first and {} second moments", n,
               a.grads.size(), a.exp_avg.size(), a.exp_avg_sq.size());
  SPRINT_CHECK(a.step >= 1, "adam_update: step must be >= 1, got {}", a.step);
  const AdamHyper& hp = a.hyper;
  const double bc1 = 1.0 - std::pow(hp.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(hp.beta2, static_cast<double>(a.step));
  AdamDeviceHyper h{};
  h.lr = static_cast<float>(hp.lr * hp.lr_scale);
  h.lr_scale = static_cast<float>(hp.lr_scale);
  h.step = a.step_values.defined() ? a.step_values.data_as<double>() : nullptr;
  h.beta1 = static_cast<float>(hp.beta1);
  h.beta2 = static_cast<float>(hp.beta2);
  h.eps = static_cast<float>(hp.eps);
  h.weight_decay = static_cast<float>(hp.weight_decay);
  h.step_size = static_cast<float>(hp.lr * hp.lr_scale / bc1);
  h.inv_sqrt_bias_correction2 = static_cast<float>(1.0 / std::sqrt(bc2));
  h.grad_scale = static_cast<float>(hp.grad_scale);
  h.decoupled = hp.decoupled_weight_decay ? 1 : 0;
  h.mask_freeze = a.mask_mode == UpdateMaskMode::kFreeze ? 1 : 0;
  const cudaStream_t stream = scope.stream();
  auto launch = [stream](const MultiTensorPack<AdamDeviceHyper>& pack) {
    adam_kernel<<<static_cast<unsigned>(pack.n_chunks), kOptThreads, 0, stream>>>(pack);
    SPRINT_CUDA_CHECK_LAUNCH("adam_kernel");
  };
  PackBuilder<AdamDeviceHyper, decltype(launch)> builder(h, launch);
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = a.params[i];
    const Tensor& g = a.grads[i];
    const Tensor& m = a.exp_avg[i];
    const Tensor& v = a.exp_avg_sq[i];
    TensorEntry e{};
    e.param = p.data();
    e.grad = g.data();
    e.state1 = m.data();
    e.state2 = v.data();
    e.n = p.numel();
    e.param_dtype = checked_dtype(p, "parameter", "adam_update");
    e.grad_dtype = checked_dtype(g, "gradient", "adam_update");
    e.state_dtype = checked_dtype(m, "first moment", "adam_update");
    SPRINT_CHECK(checked_dtype(v, "second moment", "adam_update") == e.state_dtype,
                 "adam_update: both moments of parameter {} must have one dtype", i);
    SPRINT_CHECK(g.numel() == e.n && m.numel() == e.n && v.numel() == e.n,
                 "adam_update: gradient/moments of parameter {} do not match its {} elements", i, e.n);
    set_copy(e, a.compute_copies, i, "adam_update");
    set_mask(e, a.masks, i, "adam_update");
    builder.add(e);
  }
  builder.flush();
}

void step_values_select(const Stream& s, const StepValuesSelectArgs& a) {
  OpScope scope(s, "cuda.step_values_select");
  step_values_select_kernel<<<1, 32, 0, scope.stream()>>>(a.table.data_as<double>(), a.table.dim(0),
                                                          a.cursor.data_as<int64_t>(), a.out.data_as<double>());
  SPRINT_CUDA_CHECK_LAUNCH("step_values_select_kernel");
}

}  // namespace sprint::cuda
