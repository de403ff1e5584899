// tensor.cpp: Storage lifetime and Tensor views (reshape, narrow), host conversions.
#include "sprint/core/tensor.h"

#include <cstring>

namespace sprint {

Storage::Storage(Allocator& allocator, size_t n_bytes)
    : data_(allocator.allocate(n_bytes)), n_bytes_(n_bytes), device_(allocator.device()), allocator_(&allocator) {}

Storage::Storage(void* data, size_t n_bytes, Device device) : data_(data), n_bytes_(n_bytes), device_(device) {}

Storage::~Storage() {
  if (allocator_) allocator_->deallocate(data_, n_bytes_);
}

int64_t channel_block(MemoryFormat format) {
  switch (format) {
    case MemoryFormat::kContiguous:
    case MemoryFormat::kChannelsLast: return 0;
    case MemoryFormat::kChannelsBlocked8: return 8;
    case MemoryFormat::kChannelsBlocked16: return 16;
    case MemoryFormat::kWeightsBlocked8:
    case MemoryFormat::kWeightsBlocked16: return 0;
  }
  return 0;
}

int64_t weight_block(MemoryFormat format) {
  switch (format) {
    case MemoryFormat::kContiguous:
    case MemoryFormat::kChannelsLast:
    case MemoryFormat::kChannelsBlocked8:
    case MemoryFormat::kChannelsBlocked16: return 0;
    case MemoryFormat::kWeightsBlocked8: return 8;
    case MemoryFormat::kWeightsBlocked16: return 16;
  }
  return 0;
}

const char* memory_format_name(MemoryFormat format) {
  switch (format) {
    case MemoryFormat::kContiguous: return "nchw";
    case MemoryFormat::kChannelsLast: return "nhwc";
    case MemoryFormat::kChannelsBlocked8: return "blocked8c";
    case MemoryFormat::kChannelsBlocked16: return "blocked16c";
    case MemoryFormat::kWeightsBlocked8: return "oihw8i8o";
    case MemoryFormat::kWeightsBlocked16: return "oihw16i16o";
  }
  return "?";
}

Strides blocked_strides(const Shape& shape, int64_t block) {
  SPRINT_CHECK(shape.size() == 4 && block > 0, "blocked layouts are 4-D (N, C, H, W), got {}", shape.to_string());
  const int64_t blocks = (shape[1] + block - 1) / block;
  return {blocks * shape[2] * shape[3] * block, shape[2] * shape[3] * block, shape[3] * block, block};
}

Strides weight_blocked_strides(const Shape& shape, int64_t block) {
  SPRINT_CHECK(shape.size() == 4 && block > 0, "blocked weights are 4-D (K, C, R, S), got {}", shape.to_string());
  const int64_t c_blocks = (shape[1] + block - 1) / block, tile = block * block;
  return {c_blocks * shape[2] * shape[3] * tile, shape[2] * shape[3] * tile, shape[3] * tile, tile};
}

void Tensor::set_layout(MemoryFormat format) {
  for (int64_t d : shape_) SPRINT_CHECK(d >= 0, "negative dimension in shape {}", shape_.to_string());
  channel_block_ = 0;
  weight_block_ = 0;
  switch (format) {
    case MemoryFormat::kContiguous: strides_ = contiguous_strides(shape_); break;
    case MemoryFormat::kChannelsLast: strides_ = channels_last_strides(shape_); break;
    case MemoryFormat::kChannelsBlocked8:
    case MemoryFormat::kChannelsBlocked16:
      SPRINT_CHECK(device_.is_cpu(), "{} tensors live in host memory, not on {}", memory_format_name(format),
                   device_name(device_));
      channel_block_ = static_cast<uint8_t>(sprint::channel_block(format));
      strides_ = blocked_strides(shape_, channel_block_);
      break;
    case MemoryFormat::kWeightsBlocked8:
    case MemoryFormat::kWeightsBlocked16:
      SPRINT_CHECK(device_.is_cpu(), "{} tensors live in host memory, not on {}", memory_format_name(format),
                   device_name(device_));
      weight_block_ = static_cast<uint8_t>(sprint::weight_block(format));
      strides_ = weight_blocked_strides(shape_, weight_block_);
      break;
  }
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Allocator& allocator, MemoryFormat format) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = allocator.device();
  t.set_layout(format);
  t.storage_ = std::make_shared<Storage>(allocator, t.n_bytes());
  if (t.is_blocked() && t.n_bytes() > 0) std::memset(t.storage_->data(), 0, t.n_bytes());
  return t;
}

Tensor Tensor::over(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype, MemoryFormat format) {
  SPRINT_CHECK(storage != nullptr, "a tensor over storage needs a storage");
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = storage->device();
  t.set_layout(format);
  SPRINT_CHECK(t.n_bytes() <= storage->n_bytes(), "a {} tensor of shape {} needs {} bytes; the storage has {}",
               dtype_name(dtype), shape.to_string(), t.n_bytes(), storage->n_bytes());
  t.storage_ = std::move(storage);
  return t;
}

size_t Tensor::bytes_for(const Shape& shape, DType dtype, MemoryFormat format) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.set_layout(format);  // the device only matters for the host-only check, which empty() and over() make
  return t.n_bytes();
}

int64_t Tensor::storage_numel() const {
  if (weight_block_ != 0) return (shape_[0] + weight_block_ - 1) / weight_block_ * strides_[0];
  if (channel_block_ == 0) return numel();
  return shape_[0] * strides_[0];
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>(data, t.n_bytes(), device);
  return t;
}

template <class T>
Tensor Tensor::from_values(std::span<const T> values, const Shape& shape) {
  SPRINT_CHECK(static_cast<int64_t>(values.size()) == shape.product(), "{} values do not fill shape {}",
               values.size(), shape.to_string());
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(T));
  return t;
}

int64_t Tensor::dim(int i) const {
  const int n = ndim();
  const int j = i < 0 ? i + n : i;
  SPRINT_CHECK(j >= 0 && j < n, "dimension {} out of range for {}-D tensor", i, n);
  return shape_[j];
}

bool Tensor::is_contiguous() const { return !is_blocked() && strides_ == contiguous_strides(shape_); }

bool Tensor::is_channels_last() const {
  return !is_blocked() && ndim() == 4 && strides_ == channels_last_strides(shape_);
}

MemoryFormat Tensor::memory_format() const {
  if (channel_block_ == 8) return MemoryFormat::kChannelsBlocked8;
  if (channel_block_ == 16) return MemoryFormat::kChannelsBlocked16;
  if (weight_block_ == 8) return MemoryFormat::kWeightsBlocked8;
  if (weight_block_ == 16) return MemoryFormat::kWeightsBlocked16;
  // A (N, 1, H, W) or (N, C, 1, 1) tensor is both; prefer contiguous.
  if (is_contiguous()) return MemoryFormat::kContiguous;
  SPRINT_CHECK(is_channels_last(), "tensor {} is neither contiguous nor channels-last", description());
  return MemoryFormat::kChannelsLast;
}

void* Tensor::data() const {
  SPRINT_CHECK(defined(), "access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_bytes_;
}

Tensor Tensor::reshape(const Shape& shape) const {
  SPRINT_CHECK(is_contiguous(), "reshape needs a contiguous tensor, got {}", description());
  Shape resolved = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      SPRINT_CHECK(infer < 0, "reshape {}: at most one -1", shape.to_string());
      infer = i;
    } else {
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    SPRINT_CHECK(known > 0 && numel() % known == 0, "cannot reshape {} to {}", shape_.to_string(),
                 shape.to_string());
    resolved[infer] = numel() / known;
  }
  SPRINT_CHECK(resolved.product() == numel(), "cannot reshape {} to {}", shape_.to_string(), shape.to_string());
  Tensor t = *this;
  t.shape_ = resolved;
  t.strides_ = contiguous_strides(resolved);
  return t;
}

Tensor Tensor::narrow(int dim_index, int64_t start, int64_t length) const {
  const int d = dim_index < 0 ? dim_index + ndim() : dim_index;
  SPRINT_CHECK(d >= 0 && d < ndim(), "narrow: dimension {} out of range for {}", dim_index, description());
  SPRINT_CHECK(start >= 0 && length >= 0 && start + length <= shape_[d], "narrow: [{}, {}) out of range 0..{}",
               start, start + length, shape_[d]);
  SPRINT_CHECK(weight_block_ == 0, "narrow: blocked weights {} cannot be narrowed", description());
  SPRINT_CHECK(channel_block_ == 0 || d == 0, "narrow: a channel-blocked tensor narrows along N only, got dimension {}",
               dim_index);
  Tensor t = *this;
  t.shape_[d] = length;
  t.offset_bytes_ += static_cast<size_t>(start * strides_[d]) * element_size();
  return t;
}

namespace {
template <class T>
T convert_element(const void* src, DType dtype) {
  switch (dtype) {
    case DType::kF32: return static_cast<T>(*static_cast<const float*>(src));
    case DType::kF64: return static_cast<T>(*static_cast<const double*>(src));
    case DType::kF16: return static_cast<T>(f16_to_float(*static_cast<const f16*>(src)));
    case DType::kBF16: return static_cast<T>(bf16_to_float(*static_cast<const bf16*>(src)));
    case DType::kI32: return static_cast<T>(*static_cast<const int32_t*>(src));
    case DType::kI64: return static_cast<T>(*static_cast<const int64_t*>(src));
    case DType::kU8: return static_cast<T>(*static_cast<const uint8_t*>(src));
  }
  return T{};
}
}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  SPRINT_CHECK(device_.is_cpu(), "to_vector needs a CPU tensor, got {}", description());
  std::vector<T> out(static_cast<size_t>(numel()));
  if (out.empty()) return out;
  const char* base = static_cast<const char*>(data());
  const size_t es = element_size();
  // Walk the logical index in row-major order, following strides.
  Dims index;
  for (int i = 0; i < ndim(); ++i) index.push_back(0);
  const int64_t block = channel_block_, wblock = weight_block_;
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t offset = 0;
    if (wblock != 0) {
      offset = index[0] / wblock * strides_[0] + index[1] / wblock * strides_[1] + index[2] * strides_[2] +
               index[3] * strides_[3] + index[1] % wblock * wblock + index[0] % wblock;
    } else if (block != 0) {
      offset = index[0] * strides_[0] + index[1] / block * strides_[1] + index[1] % block + index[2] * strides_[2] +
               index[3] * strides_[3];
    } else {
      for (int i = 0; i < ndim(); ++i) offset += index[i] * strides_[i];
    }
    out[k] = convert_element<T>(base + offset * static_cast<int64_t>(es), dtype_);
    for (int i = ndim() - 1; i >= 0; --i) {
      if (++index[i] < shape_[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

bool Tensor::overlaps(const Tensor& other) const {
  if (!defined() || !other.defined() || storage_ != other.storage_) return false;
  // Conservative: byte ranges spanned by each view.
  auto span_end = [](const Tensor& t) {
    if (t.is_blocked()) return t.offset_bytes_ + t.n_bytes();
    size_t last = 0;
    for (int i = 0; i < t.ndim(); ++i) last += static_cast<size_t>((t.shape_[i] - 1) * t.strides_[i]);
    return t.offset_bytes_ + (last + 1) * t.element_size();
  };
  if (numel() == 0 || other.numel() == 0) return false;
  return offset_bytes_ < span_end(other) && other.offset_bytes_ < span_end(*this);
}

std::string Tensor::description() const {
  if (!defined()) return "undefined tensor";
  std::string layout = (ndim() == 4 && !is_contiguous() && is_channels_last()) ? " channels-last" : "";
  if (is_blocked()) layout = std::string(" ") + memory_format_name(memory_format());
  return fmt::format("{}{} {}{}", dtype_name(dtype_), shape_.to_string(), device_name(device_), layout);
}

void check_shape(const Tensor& t, const Shape& shape, const char* name) {
  SPRINT_CHECK(t.defined(), "{} is undefined", name);
  SPRINT_CHECK(t.shape() == shape, "{} must have shape {}, got {}", name, shape.to_string(), t.shape().to_string());
}

void check_tensor(const Tensor& t, Device device, DType dtype, const char* name) {
  SPRINT_CHECK(t.defined(), "{} is undefined", name);
  SPRINT_CHECK(t.device() == device, "{} is on {}, expected {}", name, device_name(t.device()), device_name(device));
  SPRINT_CHECK(t.dtype() == dtype, "{} is {}, expected {}", name, dtype_name(t.dtype()), dtype_name(dtype));
}

#define SPRINT_INSTANTIATE_TENSOR(T)                                                   \
  template Tensor Tensor::from_values<T>(std::span<const T>, const Shape&); \
  template std::vector<T> Tensor::to_vector<T>() const;
SPRINT_INSTANTIATE_TENSOR(float)
SPRINT_INSTANTIATE_TENSOR(double)
SPRINT_INSTANTIATE_TENSOR(int32_t)
SPRINT_INSTANTIATE_TENSOR(int64_t)
SPRINT_INSTANTIATE_TENSOR(uint8_t)
#undef SPRINT_INSTANTIATE_TENSOR

}  // namespace sprint
