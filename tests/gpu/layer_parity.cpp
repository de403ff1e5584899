// layer_parity.cpp: the CUDA-versus-CPU layer harness of layer_parity.h.
#include "gpu/layer_parity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "sprint/nn/conv.h"
#include "sprint/nn/linear.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

Stream cpu() { return cpu_context().compute_stream(); }

/// Calls f(parameter) for the weight and bias of every Linear and Conv2d in `module`.
template <class F>
void for_each_dense_parameter(nn::Module& module, F&& f) {
  if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
    f(*linear->weight());
    if (linear->bias()) f(*linear->bias());
  } else if (auto* conv = dynamic_cast<nn::Conv2d*>(&module)) {
    f(*conv->weight());
    if (conv->bias()) f(*conv->bias());
  }
  for (auto& [name, child] : module.children()) for_each_dense_parameter(*child, f);
}

/// The same values as a CPU f32 tensor and as a CUDA `dtype` tensor, both rounded to `dtype` and laid out in
/// `format` (4-D only).
struct Pair {
  Tensor cpu, gpu;
};

Pair make_pair(const Stream& gpu, const Tensor& host_f64, DType dtype, MemoryFormat cpu_format,
               MemoryFormat gpu_format) {
  const Tensor rounded = ops::cast_to(cpu(), host_f64, dtype);
  const bool image = host_f64.ndim() == 4;
  Pair p;
  p.cpu = ops::cast_to(cpu(), rounded, DType::kF32, image ? cpu_format : MemoryFormat::kContiguous);
  const Tensor on_gpu = ops::to_stream_device(gpu, rounded);
  p.gpu = image && gpu_format != MemoryFormat::kContiguous ? ops::cast_to(gpu, on_gpu, dtype, gpu_format) : on_gpu;
  return p;
}

MemoryFormat format_of(const Tensor& t) { return t.ndim() == 4 ? t.memory_format() : MemoryFormat::kContiguous; }

}  // namespace

Tolerance layer_tolerance(DType dtype) {
  switch (dtype) {
    case DType::kF16: return {1e-2, 1e-2};
    case DType::kBF16: return {4e-2, 4e-2};
    default: return {1e-4, 1e-5};
  }
}

::testing::AssertionResult close_to(const Tensor& actual, const Tensor& expected, Tolerance t) {
  const Stream s = device_context(expected.device()).compute_stream();
  const Tensor host = ops::to_host(s, expected);  // expected itself when on the host
  double scale = 0.0;
  for (double v : host.to_vector<double>()) scale = std::max(scale, std::abs(v));
  return all_close(actual, expected, t.rtol, t.atol * (scale > 0.0 ? scale : 1.0));
}

void cast_dense_parameters(nn::Module& module, DType dtype) {
  for_each_dense_parameter(module, [&](nn::Parameter& p) { p.set_value(ops::cast_to(cpu(), p.value(), dtype)); });
}

void check_layer_parity(const Stream& gpu, const LayerParityCase& c) {
  const Tolerance tol = c.tolerance.value_or(layer_tolerance(c.dtype));
  Generator init_ref(c.seed), init_dev(c.seed);
  nn::ModulePtr ref = c.make(init_ref), dev = c.make(init_dev);
  if (c.dtype != DType::kF32) {
    cast_dense_parameters(*dev, c.dtype);
    cast_dense_parameters(*ref, c.dtype);  // rounded ...
    cast_dense_parameters(*ref, DType::kF32);  // ... and computed in f32
  }
  dev->to_device(gpu);
  Generator data(c.seed + 101);
  Generator rng_ref(c.seed + 202), rng_dev(c.seed + 202);  // equal dropout masks on both sides
  nn::RunContext ctx_ref{cpu(), &rng_ref}, ctx_dev{gpu, &rng_dev};
  auto input = [&] {
    return make_pair(gpu, random_tensor(c.input, DType::kF64, data, c.input_low, c.input_high), c.dtype, c.format,
                     c.format);
  };

  std::vector<Pair> warmup_inputs;  // layers keep pointers to their last inputs: keep them alive
  ref->train();
  dev->train();
  for (int i = 0; i < c.warmup_forwards; ++i) {
    warmup_inputs.push_back(input());
    ref->forward(ctx_ref, warmup_inputs.back().cpu);
    dev->forward(ctx_dev, warmup_inputs.back().gpu);
  }
  ref->train(c.training);
  dev->train(c.training);
  for (const nn::ParameterPtr& p : ref->parameters()) p->zero_grad();
  for (const nn::ParameterPtr& p : dev->parameters()) p->zero_grad();

  const Pair x = input();
  const Tensor y_ref = ref->forward(ctx_ref, x.cpu);
  const Tensor y_dev = dev->forward(ctx_dev, x.gpu);
  ASSERT_TRUE(y_dev.device().is_cuda());
  ASSERT_EQ(y_dev.shape(), y_ref.shape());
  EXPECT_EQ(y_dev.dtype(), c.dtype);
  EXPECT_TRUE(close_to(y_dev, y_ref, tol)) << "forward";

  const Pair dy = make_pair(gpu, random_tensor(y_ref.shape(), DType::kF64, data), c.dtype, format_of(y_ref),
                            format_of(y_dev));
  const Tensor dx_ref = ref->backward(ctx_ref, dy.cpu);
  const Tensor dx_dev = dev->backward(ctx_dev, dy.gpu);
  ASSERT_EQ(dx_dev.defined(), dx_ref.defined());
  if (dx_ref.defined()) {
    EXPECT_TRUE(close_to(dx_dev, dx_ref, tol)) << "input gradient";
  }

  const auto params_ref = ref->named_parameters(), params_dev = dev->named_parameters();
  ASSERT_EQ(params_dev.size(), params_ref.size());
  for (size_t i = 0; i < params_ref.size(); ++i) {
    const auto& [name, p_ref] = params_ref[i];
    const nn::Parameter& p_dev = *params_dev[i].second;
    ASSERT_EQ(p_dev.has_grad(), p_ref->has_grad()) << name;
    if (p_ref->has_grad()) {
      EXPECT_TRUE(close_to(p_dev.grad(), p_ref->grad(), tol)) << name;
    }
  }
  const auto buffers_ref = ref->named_buffers(), buffers_dev = dev->named_buffers();
  ASSERT_EQ(buffers_dev.size(), buffers_ref.size());
  for (size_t i = 0; i < buffers_ref.size(); ++i)
    EXPECT_TRUE(close_to(buffers_dev[i].value, buffers_ref[i].value, tol)) << buffers_ref[i].name;
}

}  // namespace sprint::testing
