// dropout.cu (CUDA): inverted dropout with the counter-based mask of backend/api/dropout.h, bit for bit the
// CPU's: logical element e (row-major over (N, C, H, W) whatever the memory format) is kept iff
// uniform_from_bits(philox_word(seed, offset + e)) >= float(p), and kept elements are scaled by
// float(1 / (1 − p)). The forward product is explicitly rounded (__fmul_rn: no contraction), so f32 forward and
// overwrite-mode backward results equal the CPU loop's bit for bit; accumulation is one FMA (see apply()).
// f16/bf16 compute in float and round once.
//
// Contiguous tensors (and every non-4-D tensor): one thread per Philox block (4 consecutive words, 4
// consecutive elements). Channels-last 4-D tensors: one thread per element in memory order, which maps its
// (n, h, w, c) position back to the logical index (one Philox block per element; the mask is the same).
//
// With a device state (DropoutMask::state) each thread reads the seed and base offset from device memory when the
// kernel runs, so a captured graph replays with the values the step's philox_state_advance left there. The offset's
// alignment to a Philox block is then unknown at launch: the grid covers the worst case.
#include "sprint/backend/api/dropout.h"

#include "sprint/backend/cuda/common.cuh"
#include "sprint/backend/cuda/image.h"
#include "sprint/backend/cuda/philox.cuh"

namespace sprint::cuda {
namespace {

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

struct MaskParams {
  uint64_t seed;
  uint64_t offset;
  float p;               // drop probability, as the CPU compares it (float)
  float scale;           // float(1 / (1 - p))
  const int64_t* state;  // {seed, base} in device memory, or null
};

// The seed and offset the mask uses: from the device state when there is one.
__device__ __forceinline__ MaskParams resolve(MaskParams m) {
  if (m.state != nullptr) {
    m.seed = static_cast<uint64_t>(m.state[0]);
    m.offset += static_cast<uint64_t>(m.state[1]);
  }
  return m;
}

__global__ void philox_state_advance_kernel(int64_t* state, uint64_t n_words) {
  state[1] = static_cast<int64_t>(static_cast<uint64_t>(state[1]) + n_words);
}

__device__ __forceinline__ bool keep_word(uint32_t bits, float p) { return philox_uniform(bits) >= p; }

// Forward / overwrite: out = keep ? in · scale : 0 (one rounding). Accumulate: out += keep ? in · scale : 0 as
// one fused multiply-add (what the CPU loop compiles to with FMA; without FMA the CPU rounds the product first,
// an ulp of difference). `out` may alias `in` (each element is read before it is written, by the same thread).
template <class T>
__device__ __forceinline__ void apply(const T* in, T* out, int64_t i, bool keep, float scale, bool accumulate) {
  if (accumulate) {
    if (keep) out[i] = from_float<T>(fmaf(to_float(in[i]), scale, to_float(out[i])));
  } else {
    out[i] = from_float<T>(keep ? __fmul_rn(to_float(in[i]), scale) : 0.0f);
  }
}

// Memory order == logical order. Thread j handles Philox block first_block + j, i.e. the elements whose words
// offset + e fall in [4·block, 4·block + 4).
template <class T>
__global__ void dropout_contiguous_kernel(const T* in, T* out, int64_t n, int64_t n_blocks, MaskParams params,
                                          bool accumulate) {
  const MaskParams m = resolve(params);
  const uint64_t first_block = m.offset >> 2;
  SPRINT_GRID_STRIDE_LOOP(j, n_blocks) {
    const uint64_t block = first_block + static_cast<uint64_t>(j);
    const PhiloxWords words = philox_block(m.seed, block);
#pragma unroll
    for (uint32_t k = 0; k < 4; ++k) {
      const uint64_t word = (block << 2) + k;
      if (word < m.offset) continue;  // the first block may start before the tensor's first word
      const uint64_t e = word - m.offset;
      if (e >= static_cast<uint64_t>(n)) break;
      apply(in, out, static_cast<int64_t>(e), keep_word(philox_select(words, k), m.p), m.scale, accumulate);
    }
  }
}

// Channels-last (N, C, H, W): memory index i = ((n·H + h)·W + w)·C + c, logical e = ((n·C + c)·H + h)·W + w.
template <class T, class Index>
__global__ void dropout_nhwc_kernel(const T* in, T* out, Index n, Index channels, Index height, Index width,
                                    MaskParams params, bool accumulate) {
  const MaskParams m = resolve(params);
  for (Index i = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<Index>(blockDim.x) * gridDim.x) {
    const Index c = i % channels;
    Index t = i / channels;
    const Index w = t % width;
    t /= width;
    const Index h = t % height;
    const Index b = t / height;
    const uint64_t e =
        ((static_cast<uint64_t>(b) * channels + c) * static_cast<uint64_t>(height) + h) * width + w;
    const bool keep = keep_word(philox_word(m.seed, m.offset + e), m.p);
    apply(in, out, static_cast<int64_t>(i), keep, m.scale, accumulate);
  }
}

// ------------------------------------------------------------------------------------------------------------
// Launcher
// ------------------------------------------------------------------------------------------------------------

void run_dropout(cudaStream_t stream, const Tensor& in, const Tensor& out, const DropoutMask& mask,
                 bool accumulate, const char* op) {
  const int64_t n = in.numel();
  if (n == 0) return;
  SPRINT_CHECK(out.numel() == n && out.dtype() == in.dtype(), "{}: {} and {} differ", op, in.description(),
               out.description());
  SPRINT_CHECK(mask.p >= 0.0 && mask.p < 1.0, "{}: drop probability must be in [0, 1), got {}", op, mask.p);
  const bool device_state = mask.state.defined();
  const MaskParams m{mask.seed, mask.offset, static_cast<float>(mask.p), static_cast<float>(1.0 / (1.0 - mask.p)),
                     device_state ? mask.state.data_as<int64_t>() : nullptr};
  // The CPU's rule: a 4-D tensor that is not contiguous is channels-last. Layout-neutral tensors (C == 1 or
  // H·W == 1) map memory to logical indices identically in both layouts, so either kernel is right for them.
  const bool nhwc = in.ndim() == 4 && !in.is_contiguous();
  if (in.ndim() == 4) {
    SPRINT_CHECK(out.ndim() == 4, "{}: {} and {} differ in rank", op, in.description(), out.description());
    (void)image_layout({&in, &out}, op);  // both dense NCHW/NHWC, in one layout unless neutral
  } else {
    SPRINT_CHECK(in.is_contiguous() && out.is_contiguous(), "{}: expected contiguous tensors, got {} and {}",
                 op, in.description(), out.description());
  }
  dispatch_floating(in.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = ptr<const T>(in);
    T* dst = ptr<T>(out);
    if (!nhwc) {
      // Philox blocks the n words touch: known from the offset, or at most n / 4 + 2 whatever its alignment.
      const int64_t n_blocks =
          device_state
              ? n / 4 + 2
              : static_cast<int64_t>(((mask.offset + static_cast<uint64_t>(n) - 1) >> 2) - (mask.offset >> 2)) + 1;
      dropout_contiguous_kernel<T>
          <<<blocks_for(n_blocks), kThreads, 0, stream>>>(src, dst, n, n_blocks, m, accumulate);
      SPRINT_CUDA_CHECK_LAUNCH("dropout_contiguous_kernel");
      return;
    }
    const int64_t c = in.dim(1), h = in.dim(2), w = in.dim(3);
    if (n < (int64_t{1} << 31)) {
      dropout_nhwc_kernel<T, uint32_t><<<blocks_for(n), kThreads, 0, stream>>>(
          src, dst, static_cast<uint32_t>(n), static_cast<uint32_t>(c), static_cast<uint32_t>(h),
          static_cast<uint32_t>(w), m, accumulate);
    } else {
      dropout_nhwc_kernel<T, uint64_t><<<blocks_for(n), kThreads, 0, stream>>>(
          src, dst, static_cast<uint64_t>(n), static_cast<uint64_t>(c), static_cast<uint64_t>(h),
          static_cast<uint64_t>(w), m, accumulate);
    }
    SPRINT_CUDA_CHECK_LAUNCH("dropout_nhwc_kernel");
  });
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------------------------

void dropout_forward(const Stream& stream, const DropoutForwardArgs& args) {
  OpScope scope(stream, "cuda.dropout_forward");
  run_dropout(scope.stream(), args.x, args.y, args.mask, false, "dropout_forward");
}

void dropout_backward(const Stream& stream, const DropoutBackwardArgs& args) {
  OpScope scope(stream, "cuda.dropout_backward");
  run_dropout(scope.stream(), args.dy, args.dx, args.mask, args.mode == GradMode::kAccumulate,
              "dropout_backward");
}

void philox_state_advance(const Stream& stream, const PhiloxStateAdvanceArgs& args) {
  OpScope scope(stream, "cuda.philox_state_advance");
  philox_state_advance_kernel<<<1, 1, 0, scope.stream()>>>(args.state.data_as<int64_t>(), args.n_words);
  SPRINT_CUDA_CHECK_LAUNCH("philox_state_advance_kernel");
}

}  // namespace sprint::cuda
