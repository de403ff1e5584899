// pool.h: pooling layers. MaxPool2d and AvgPool2d keep x's memory format; GlobalAvgPool2d and GlobalMaxPool2d
// reduce (N, C, H, W) to (N, C).
#pragma once

#include "sprint/backend/api/pool.h"
#include "sprint/nn/layer_util.h"
#include "sprint/nn/module.h"

namespace sprint::nn {

struct PoolOptions {
  int64_t kernel_size = 2;
  int64_t stride = 0;  ///< 0 = kernel_size (PyTorch's default)
  int64_t padding = 0;
  bool count_include_pad = true;  ///< AvgPool2d only

  explicit PoolOptions(int64_t kernel) : kernel_size(kernel) {}
  PoolOptions& with_stride(int64_t s) { stride = s; return *this; }
  PoolOptions& with_padding(int64_t p) { padding = p; return *this; }
  PoolOptions& with_count_include_pad(bool on) { count_include_pad = on; return *this; }

  Pool2dParams params() const { return {kernel_size, stride > 0 ? stride : kernel_size, padding, count_include_pad}; }
};

/// What a pooling layer's backward needs of its input: the gradient's shape, dtype and layout, not the values (so
/// the input's memory is free once forward has run).
struct PoolInput {
  Shape shape;
  DType dtype = DType::kF32;
  MemoryFormat format = MemoryFormat::kContiguous;
  static PoolInput of(const Tensor& x) { return {x.shape(), x.dtype(), x.memory_format()}; }
};

class MaxPool2d final : public Module {
 public:
  explicit MaxPool2d(const PoolOptions& options);
  explicit MaxPool2d(int64_t kernel) : MaxPool2d(PoolOptions(kernel)) {}

  std::string type_name() const override { return "MaxPool2d"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  struct Saved {
    PoolInput x;
    Tensor indices;
  };
  Pool2dParams params_;
  PerBuffer<Saved> saved_;
};

class AvgPool2d final : public Module {
 public:
  explicit AvgPool2d(const PoolOptions& options);
  explicit AvgPool2d(int64_t kernel) : AvgPool2d(PoolOptions(kernel)) {}

  std::string type_name() const override { return "AvgPool2d"; }
  std::string describe() const override;
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  Pool2dParams params_;
  PerBuffer<PoolInput> saved_x_;
};

class GlobalAvgPool2d final : public Module {
 public:
  std::string type_name() const override { return "GlobalAvgPool2d"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  PerBuffer<PoolInput> saved_x_;
};

class GlobalMaxPool2d final : public Module {
 public:
  std::string type_name() const override { return "GlobalMaxPool2d"; }
  Tensor forward(RunContext& ctx, const Tensor& x) override;
  Tensor backward(RunContext& ctx, const Tensor& dy) override;
  Shape output_shape(const Shape& input) const override;
  LayerCost cost(const Shape& input, DType dtype, Phase phase) const override;

 private:
  struct Saved {
    PoolInput x;
    Tensor indices;
  };
  PerBuffer<Saved> saved_;
};

}  // namespace sprint::nn
