// gradcheck.cpp: float64 central-difference checks for modules and losses.
#include "support/gradcheck.h"

#include <cmath>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

double dot(const Tensor& a, const std::vector<double>& g) {
  const std::vector<double> v = a.to_vector<double>();
  double s = 0.0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * g[i];
  return s;
}

// Memory offset (in elements) of logical element `i` of `t` (row-major logical order).
int64_t memory_offset(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int d = t.ndim() - 1; d >= 0; --d) {
    off += (i % t.dim(d)) * t.strides()[d];
    i /= t.dim(d);
  }
  return off;
}

std::vector<int64_t> probe_indices(int64_t n, int64_t max_probes) {
  std::vector<int64_t> idx;
  if (max_probes <= 0 || n <= max_probes) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int64_t k = 0; k < max_probes; ++k) idx.push_back(k * n / max_probes);
  }
  return idx;
}

void compare(const char* what, const std::string& name, const Tensor& analytic, const std::function<double()>& loss,
             const Tensor& perturbed, const GradcheckOptions& o) {
  SCOPED_TRACE(std::string(what) + " " + name);
  ASSERT_TRUE(analytic.defined()) << "no gradient computed for " << what << " " << name;
  const std::vector<double> a = analytic.to_vector<double>();
  double* data = perturbed.data_as<double>();
  int failures = 0;
  for (int64_t i : probe_indices(perturbed.numel(), o.max_probes)) {
    double& v = data[memory_offset(perturbed, i)];
    const double saved = v;
    v = saved + o.eps;
    const double plus = loss();
    v = saved - o.eps;
    const double minus = loss();
    v = saved;
    const double numeric = (plus - minus) / (2.0 * o.eps);
    const double err = std::abs(numeric - a[static_cast<size_t>(i)]);
    if (err > o.atol + o.rtol * std::abs(numeric) && ++failures <= 5)
      ADD_FAILURE() << what << " " << name << "[" << i << "]: analytic " << a[static_cast<size_t>(i)]
                    << " vs numeric " << numeric << " (|diff| " << err << ")";
  }
}

}  // namespace

void expect_module_gradients(nn::Module& module, const Shape& input_shape, const GradcheckOptions& o) {
  Generator rng(o.seed);
  const Stream stream = cpu_context().compute_stream();
  Tensor x0 = random_tensor(input_shape, DType::kF64, rng, o.input_low, o.input_high);
  Tensor x = o.input_format == MemoryFormat::kContiguous ? x0 : ops::cast_to(stream, x0, DType::kF64, o.input_format);
  module.set_training(o.training);
  module.set_needs_input_grad(o.check_input_grad);
  Generator layer_rng(o.seed + 1);
  const GeneratorState rng_state = layer_rng.state();
  nn::RunContext ctx{stream, &layer_rng};
  ctx.replica_sum = o.replica_sum;

  auto run_forward = [&]() -> Tensor {
    layer_rng.set_state(rng_state);  // same dropout mask on every evaluation
    return module.forward(ctx, x);
  };
  const Tensor y0 = run_forward();
  const std::vector<double> g = random_tensor(y0.shape(), DType::kF64, rng).to_vector<double>();
  Tensor dy = ops::cast_to(stream, Tensor::from_values(g, y0.shape()), DType::kF64, y0.memory_format());
  auto loss = [&] { return dot(run_forward(), g); };

  auto params = module.named_parameters();
  for (auto& [name, p] : params) p->zero_grad();
  run_forward();
  Tensor dx = module.backward(ctx, dy);
  // Snapshot analytic gradients before any further forward/backward reuses buffers.
  std::vector<Tensor> param_grads;
  for (auto& [name, p] : params) param_grads.push_back(p->has_grad() ? ops::cast_to(stream, p->grad(), DType::kF64) : Tensor());
  const Tensor dx_copy = o.check_input_grad ? ops::cast_to(stream, dx, DType::kF64) : Tensor();

  if (o.check_input_grad) compare("input", "x", dx_copy, loss, x, o);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].second->trainable()) continue;
    compare("parameter", params[i].first, param_grads[i], loss, params[i].second->value(), o);
  }

  // Accumulate mode: a second backward (same forward) adds the same gradient again.
  run_forward();
  module.backward(ctx, dy);
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].second->trainable() || !param_grads[i].defined()) continue;
    Tensor twice = ops::cast_to(stream, params[i].second->grad(), DType::kF64);
    Tensor expected = Tensor::empty(twice.shape(), DType::kF64);
    ops::axpby(stream, {.a = param_grads[i], .b = param_grads[i], .out = expected});
    EXPECT_TRUE(all_close(twice, expected, 1e-12, 1e-12)) << "accumulate mode of " << params[i].first;
  }
}

void expect_loss_gradients(nn::Loss& loss_fn, int64_t n, int64_t k, const GradcheckOptions& o) {
  Generator rng(o.seed);
  const Stream stream = cpu_context().compute_stream();
  Tensor x = random_tensor({n, k}, DType::kF64, rng, o.input_low, o.input_high);
  Tensor target = random_labels(n, k, rng);
  nn::RunContext ctx{stream, nullptr};
  auto loss = [&] { return loss_fn.forward(ctx, x, target).to_vector<double>()[0]; };
  loss();
  const double scale = 1.7;
  Tensor dx = ops::cast_to(stream, loss_fn.backward(ctx, scale), DType::kF64);
  auto scaled = [&] { return scale * loss(); };
  compare("input", "logits", dx, scaled, x, o);
}

}  // namespace sprint::testing
