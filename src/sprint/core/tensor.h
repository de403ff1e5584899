// tensor.h: Storage (a block of memory on one device) and Tensor (a typed, strided view into a Storage).
// Tensors are cheap handles: copying one shares the storage. Shapes use the letters of shape.h, e.g. a batch of
// images is (N, C, H, W) whether it is stored NCHW (contiguous), NHWC (channels-last strides) or channel-blocked
// (N, ceil(C/b), H, W, b): the CPU convolution kernels' own layout, with b = 8 (AVX2) or 16 (AVX-512).
// Convolution weights (K, C, R, S) have their own blocked layout, the one those kernels read: both channel
// dimensions in blocks of b, (ceil(K/b), ceil(C/b), R, S, b of C, b of K).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sprint/core/allocator.h"
#include "sprint/core/device.h"
#include "sprint/core/dtype.h"
#include "sprint/core/error.h"
#include "sprint/core/shape.h"

namespace sprint {

enum class MemoryFormat : uint8_t {
  kContiguous,         ///< row-major; (N, C, H, W) is NCHW in memory
  kChannelsLast,       ///< 4-D only: (N, C, H, W) stored as NHWC
  kChannelsBlocked8,   ///< 4-D, CPU only: (N, C, H, W) stored as (N, ceil(C/8), H, W, 8) (oneDNN's nChw8c)
  kChannelsBlocked16,  ///< 4-D, CPU only: (N, C, H, W) stored as (N, ceil(C/16), H, W, 16) (oneDNN's nChw16c)
  kWeightsBlocked8,    ///< 4-D, CPU only: weights (K, C, R, S) as (ceil(K/8), ceil(C/8), R, S, 8, 8) (OIhw8i8o)
  kWeightsBlocked16,   ///< 4-D, CPU only: weights (K, C, R, S) as (ceil(K/16), ceil(C/16), R, S, 16, 16) (OIhw16i16o)
};

/// Channels per block of a channel-blocked (activation) format (8 or 16); 0 for every other format.
int64_t channel_block(MemoryFormat format);
/// Channels per block of a blocked weight format (8 or 16); 0 for every other format.
int64_t weight_block(MemoryFormat format);
/// "nchw", "nhwc", "blocked8c", "blocked16c", "oihw8i8o", "oihw16i16o".
const char* memory_format_name(MemoryFormat format);
/// Element strides of a blocked (N, C, H, W) tensor, one per logical dimension: N, the channel *block*, H and W
/// (a channel c sits at (c / b)·strides[1] + c % b).
Strides blocked_strides(const Shape& shape, int64_t block);
/// Element strides of a blocked weight tensor (K, C, R, S): the K block, the C block, R and S (a weight (k, c, r, s)
/// sits at (k / b)·strides[0] + (c / b)·strides[1] + r·strides[2] + s·strides[3] + (c % b)·b + k % b).
Strides weight_blocked_strides(const Shape& shape, int64_t block);

/// A block of device or host memory. Owning storages return their memory to the allocator that made it;
/// non-owning ones (wrap) only point at memory someone else keeps alive.
class Storage {
 public:
  Storage(Allocator& allocator, size_t n_bytes);
  Storage(void* data, size_t n_bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t n_bytes() const { return n_bytes_; }
  Device device() const { return device_; }
  Allocator* allocator() const { return allocator_; }

 private:
  void* data_ = nullptr;
  size_t n_bytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;  // null: not owning
};

class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised tensor from `allocator` (which fixes the device). Blocked formats (4-D, host memory only)
  /// come zero-filled: the channels that pad C (and K) to a whole block must stay 0 (every op keeps them so).
  static Tensor empty(const Shape& shape, DType dtype, Allocator& allocator = cpu_allocator(),
                      MemoryFormat format = MemoryFormat::kContiguous);
  /// A tensor of `shape` and `format` over the first bytes of `storage`, which must hold them (buffers recycled
  /// across shapes). Contents are what the storage holds: blocked formats are not zero-filled here.
  static Tensor over(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype, MemoryFormat format);
  /// Bytes a tensor of `shape` and `format` occupies (what empty() allocates, what over() needs).
  static size_t bytes_for(const Shape& shape, DType dtype, MemoryFormat format);
  /// Non-owning view of memory the caller keeps alive; contiguous.
  static Tensor wrap(void* data, const Shape& shape, DType dtype, Device device = kCPU);
  /// Host tensor holding a copy of `values`, contiguous with `shape` (numel must match).
  template <class T>
  static Tensor from_values(std::span<const T> values, const Shape& shape);
  template <class T>
  static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
    return from_values(std::span<const T>(values), shape);
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  int ndim() const { return shape_.size(); }
  /// Size of dimension `i`; negative i counts from the back.
  int64_t dim(int i) const;
  int64_t numel() const { return shape_.product(); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  size_t element_size() const { return dtype_size(dtype_); }
  /// Elements the dense layout occupies: numel(), or with channels padded to whole blocks for blocked formats.
  int64_t storage_numel() const;
  size_t n_bytes() const { return static_cast<size_t>(storage_numel()) * element_size(); }

  bool is_contiguous() const;
  bool is_channels_last() const;
  bool is_channel_blocked() const { return channel_block_ != 0; }
  /// Channels per block (8 or 16) of a channel-blocked tensor, 0 otherwise.
  int64_t channel_block() const { return channel_block_; }
  /// A convolution weight in the kernels' blocked layout (kWeightsBlocked8/16).
  bool is_weight_blocked() const { return weight_block_ != 0; }
  /// Channels per block (8 or 16) of a blocked weight tensor, 0 otherwise.
  int64_t weight_block() const { return weight_block_; }
  /// Either blocked kind: the strides alone do not describe where an element is.
  bool is_blocked() const { return channel_block_ != 0 || weight_block_ != 0; }
  MemoryFormat memory_format() const;

  void* data() const;
  /// Typed pointer; throws InvalidArgument if T does not match dtype().
  template <class T>
  T* data_as() const {
    SPRINT_CHECK(dtype_of<T>() == dtype_, "tensor is {}, accessed as {}", dtype_name(dtype_),
                 dtype_name(dtype_of<T>()));
    return static_cast<T*>(data());
  }

  /// Same storage, new shape; the tensor must be contiguous (not blocked). One entry may be -1 (inferred).
  Tensor reshape(const Shape& shape) const;
  /// Elements [start, start + length) along `dim`; shares storage. Channel-blocked tensors narrow along N only,
  /// blocked weights not at all.
  Tensor narrow(int dim, int64_t start, int64_t length) const;
  /// Rows [start, start + count) of dimension 0; shares storage.
  Tensor rows(int64_t start, int64_t count) const { return narrow(0, start, count); }

  /// Host copy of a CPU tensor's values in logical (row-major) order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;

  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t storage_offset_bytes() const { return offset_bytes_; }
  /// True when both tensors view overlapping bytes of the same storage.
  bool overlaps(const Tensor& other) const;
  /// "f32[64, 784] cpu"
  std::string description() const;

 private:
  /// Strides and block sizes of shape_ in `format` (checks the dimensions and that blocked ones are on the host).
  void set_layout(MemoryFormat format);

  std::shared_ptr<Storage> storage_;
  size_t offset_bytes_ = 0;
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::kF32;
  Device device_;
  uint8_t channel_block_ = 0;  // 0: strides describe the layout; 8 or 16: blocked (see blocked_strides)
  uint8_t weight_block_ = 0;   // 0: not blocked weights; 8 or 16: see weight_blocked_strides
};

/// Throws InvalidArgument unless `t` has exactly `shape` ("name" is used in the message).
void check_shape(const Tensor& t, const Shape& shape, const char* name);
/// Throws InvalidArgument unless `t` is defined, on `device`, of `dtype`.
void check_tensor(const Tensor& t, Device device, DType dtype, const char* name);

}  // namespace sprint
