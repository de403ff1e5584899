// data.cu (CUDA): gather_normalize and gather_labels, the GPU-resident data path: the u8 data set lives on the
// device and each batch is gathered, converted and normalised by one kernel. Indices must lie in [0, M) (the
// loader generates them); an out-of-range index never reads out of bounds: it yields NaN pixels / label -1.
// The per-channel normalisation (lookup tables or affine coefficients, ~3 KB) lives in device memory, built once
// per distinct (channels, mean, std) and per context, and the kernel reads it by pointer: passed by value and
// indexed at run time it would be copied into every thread's local memory. The training augmentation (an
// ImageAugment by value: seed, epoch and sizes only) is computed per element from augment.h's inline draws.
#include <algorithm>
#include <mutex>
#include <span>
#include <vector>

#include "sprint/backend/api/data.h"
#include "sprint/backend/cuda/common.cuh"

namespace sprint::cuda {
namespace {

constexpr int kMaxChannels = 16;

// Up to this many channels (every data set sprint reads: 1 or 3) the kernel looks pixels up in the CPU's own
// table, float((v / 255 - mean) / std) computed in double, so resident batches equal the DataLoader's bit for bit.
// More channels use the float affine form x · scale + shift (within 1 ulp).
constexpr int kTableChannels = 3;

struct ChannelLookup {
  float table[kTableChannels][256];  // channels <= kTableChannels: the CPU's value of every pixel
  float scale[kMaxChannels];         // 1 / (255 · std[c])
  float shift[kMaxChannels];         // -mean[c] / std[c]
};

/// Device copies of ChannelLookup, one per distinct (channels, mean, std) seen on this context (one per data set
/// statistics: a handful), kept for the context's lifetime so that kernels and captured graphs may hold the
/// pointer. Building one copies it to the device and synchronises the calling stream once; that first use must
/// therefore not happen while the stream is capturing a graph.
class ChannelLookupCache final : public ContextExtension {
 public:
  explicit ChannelLookupCache(DeviceContext& context) : context_(context) {}
  ~ChannelLookupCache() override {
    for (const Entry& e : entries_) context_.allocator().deallocate(e.device, sizeof(ChannelLookup));
  }

  const ChannelLookup* get(const Stream& stream, int64_t channels, std::span<const float> mean,
                           std::span<const float> std) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_)
      if (e.channels == channels && std::equal(mean.begin(), mean.end(), e.mean.begin(), e.mean.end()) &&
          std::equal(std.begin(), std.end(), e.std.begin(), e.std.end()))
        return e.device;
    const cudaStream_t native = stream_of(stream);
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    SPRINT_CUDA_CHECK(cudaStreamIsCapturing(native, &status));
    SPRINT_CHECK(status == cudaStreamCaptureStatusNone,
                 "gather_normalize: new normalisation statistics during a CUDA graph capture; gather one batch "
                 "with them before capturing");
    ChannelLookup host{};
    for (int64_t ch = 0; ch < channels; ++ch) {
      const double m = mean.empty() ? 0.0 : mean[static_cast<size_t>(ch)];
      const double sd = std.empty() ? 1.0 : std[static_cast<size_t>(ch)];
      host.scale[ch] = static_cast<float>(1.0 / (255.0 * sd));
      host.shift[ch] = static_cast<float>(-m / sd);
      if (channels <= kTableChannels)
        for (int v = 0; v < 256; ++v)
          host.table[ch][v] = static_cast<float>((static_cast<double>(v) / 255.0 - m) / sd);  // the CPU's formula
    }
    entries_.reserve(entries_.size() + 1);
    auto* device = static_cast<ChannelLookup*>(context_.allocator().allocate(sizeof(ChannelLookup)));
    // The allocator is stream-ordered on the compute stream: the block's previous owner may still be in use there.
    order_after_compute_stream(stream);
    SPRINT_CUDA_CHECK(cudaMemcpyAsync(device, &host, sizeof(ChannelLookup), cudaMemcpyHostToDevice, native));
    SPRINT_CUDA_CHECK(cudaStreamSynchronize(native));  // `host` dies here; every stream may now read the copy
    entries_.push_back({channels, std::vector<float>(mean.begin(), mean.end()),
                        std::vector<float>(std.begin(), std.end()), device});
    return device;
  }

 private:
  struct Entry {
    int64_t channels;
    std::vector<float> mean, std;
    ChannelLookup* device;
  };
  DeviceContext& context_;
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

struct OutStrides {
  int64_t n, c, h, w;
};

// ------------------------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------------------------

// One thread per output element, in (c, h, w) order so reads of a sample are coalesced. kAugment: output pixel
// (y, x) reads the source pixel augment_source_pixel() names (the same inline code as the CPU's draws), or is 0.
template <class T, bool kAugment>
__global__ void gather_normalize_images_kernel(const uint8_t* __restrict__ src, const int32_t* __restrict__ indices,
                                               T* __restrict__ out, int64_t n, int64_t m, int64_t c, int64_t hw,
                                               int64_t w, OutStrides s,
                                               const ChannelLookup* __restrict__ lookup, bool use_table,
                                               ImageAugment augment) {
  const int64_t per_sample = c * hw;
  SPRINT_GRID_STRIDE_LOOP(i, n * per_sample) {
    const int64_t row = i / per_sample;
    const int64_t k = i - row * per_sample;
    const int64_t ch = k / hw;
    const int64_t pix = k - ch * hw;
    const int64_t y = pix / w, x = pix - (pix / w) * w;
    const int32_t index = indices[row];
    float v;
    if (index >= 0 && index < m) {
      int64_t source = pix;
      if constexpr (kAugment)
        source = augment_source_pixel(augment, augment_draw(augment, index, hw / w, w), y, x, hw / w, w);
      if (source < 0) {
        v = 0.0f;
      } else {
        const uint8_t pixel = src[static_cast<int64_t>(index) * per_sample + ch * hw + source];
        v = use_table ? lookup->table[ch][pixel] : static_cast<float>(pixel) * lookup->scale[ch] + lookup->shift[ch];
      }
    } else {
      v = __int_as_float(0x7fc00000);  // NaN
    }
    out[row * s.n + ch * s.c + y * s.h + x * s.w] = from_float<T>(v);
  }
}

template <class T>
__global__ void gather_rows_kernel(const T* __restrict__ src, const int32_t* __restrict__ indices, T* __restrict__ out,
                                   int64_t n, int64_t m, int64_t f) {
  SPRINT_GRID_STRIDE_LOOP(i, n * f) {
    const int64_t row = i / f, col = i - row * f;
    const int32_t index = indices[row];
    out[i] = (index >= 0 && index < m) ? src[static_cast<int64_t>(index) * f + col] : from_float<T>(__int_as_float(0x7fc00000));
  }
}

__global__ void gather_labels_kernel(const int32_t* __restrict__ labels, const int32_t* __restrict__ indices,
                                     int32_t* __restrict__ out, int64_t n, int64_t m) {
  SPRINT_GRID_STRIDE_LOOP(i, n) {
    const int32_t index = indices[i];
    out[i] = (index >= 0 && index < m) ? labels[index] : -1;
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Launchers
// ------------------------------------------------------------------------------------------------------------

void gather_normalize(const Stream& stream, const GatherNormalizeArgs& a) {
  OpScope scope(stream, "gather_normalize");
  const int64_t n = a.indices.dim(0), m = a.src.dim(0);
  if (n == 0) return;
  if (a.src.dtype() == DType::kU8) {
    const int64_t c = a.src.dim(1), h = a.src.dim(2), w = a.src.dim(3);
    SPRINT_CHECK(c <= kMaxChannels, "gather_normalize on CUDA supports up to {} channels, got {}", kMaxChannels, c);
    const ChannelLookup* lookup = stream.context().extension<ChannelLookupCache>().get(stream, c, a.mean, a.std);
    const bool use_table = c <= kTableChannels;
    const OutStrides s{a.out.strides()[0], a.out.strides()[1], a.out.strides()[2], a.out.strides()[3]};
    dispatch_floating(a.out.dtype(), "gather_normalize", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const auto* src = static_cast<const uint8_t*>(a.src.data());
      if (a.augment.enabled()) {
        gather_normalize_images_kernel<T, true><<<blocks_for(n * c * h * w), kThreads, 0, scope.stream()>>>(
            src, a.indices.data_as<int32_t>(), ptr<T>(a.out), n, m, c, h * w, w, s, lookup, use_table, a.augment);
      } else {
        gather_normalize_images_kernel<T, false><<<blocks_for(n * c * h * w), kThreads, 0, scope.stream()>>>(
            src, a.indices.data_as<int32_t>(), ptr<T>(a.out), n, m, c, h * w, w, s, lookup, use_table, a.augment);
      }
    });
  } else {
    SPRINT_CHECK(a.src.dtype() == a.out.dtype(), "gather_normalize on CUDA gathers features without conversion ({} -> {})",
                 dtype_name(a.src.dtype()), dtype_name(a.out.dtype()));
    const int64_t f = a.src.dim(1);
    dispatch_floating(a.out.dtype(), "gather_normalize", [&](auto tag) {
      using T = typename decltype(tag)::type;
      gather_rows_kernel<T><<<blocks_for(n * f), kThreads, 0, scope.stream()>>>(
          ptr<T>(a.src), a.indices.data_as<int32_t>(), ptr<T>(a.out), n, m, f);
    });
  }
  SPRINT_CUDA_CHECK_LAUNCH("gather_normalize");
}

void gather_labels(const Stream& stream, const GatherLabelsArgs& a) {
  OpScope scope(stream, "gather_labels");
  const int64_t n = a.indices.dim(0);
  if (n == 0) return;
  gather_labels_kernel<<<blocks_for(n), kThreads, 0, scope.stream()>>>(
      a.labels.data_as<int32_t>(), a.indices.data_as<int32_t>(), a.out.data_as<int32_t>(), n, a.labels.dim(0));
  SPRINT_CUDA_CHECK_LAUNCH("gather_labels_kernel");
}

}  // namespace sprint::cuda
