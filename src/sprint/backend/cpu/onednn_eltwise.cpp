// onednn_eltwise.cpp: element-wise activations through oneDNN's JIT eltwise primitives (f32, or bf16 where
// the CPU backend runs bf16 natively) over flat (1-D) views: GELU (eltwise_gelu_erf) forward and backward.
#include "sprint/backend/cpu/onednn_common.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

enum class EltwiseOp : int64_t { kGeluForward = 31, kGeluBackward };

memory::desc flat_desc(int64_t n, DType dtype) { return memory::desc({n}, data_type_of(dtype), memory::format_tag::x); }

dnnl::eltwise_forward::primitive_desc forward_pd(const dnnl::engine& engine, algorithm alg, int64_t n,
                                                 DType dtype) {
  return {dnnl::eltwise_forward::desc(prop_kind::forward_training, alg, flat_desc(n, dtype), 0.f, 0.f),
          user_scratchpad_attr(), engine};
}

struct EltwiseEntry : CachedPrimitive {
  dnnl::primitive eltwise;
};

/// Runs the primitive cached for (op, threads, n), built by make(engine) on first use, with each argument of
/// `data` (oneDNN argument id, pointer) bound to a flat vector of n elements of `dtype`.
template <class Make>
void run_cached(const Stream& stream, EltwiseOp op, int64_t n, DType dtype, Make&& make,
                std::initializer_list<std::pair<int, const void*>> data) {
  if (n == 0) return;
  int threads = 1;
  OneDnnContext& dnn = onednn_context(stream, &threads);
  PrimitiveKey key;
  key.add(static_cast<int64_t>(op)).add(threads).add(n).add(static_cast<int64_t>(dtype));
  auto& e = dnn.cached<EltwiseEntry>(key, [&] {
    auto entry = std::make_unique<EltwiseEntry>();
    entry->eltwise = make(dnn);
    for (const auto& [arg, ptr] : data)
      entry->args.emplace(arg, memory(flat_desc(n, dtype), dnn.engine(), DNNL_MEMORY_NONE));
    return entry.release();
  });
  std::lock_guard<std::mutex> lock(e.mutex);
  for (const auto& [arg, ptr] : data) e.args.at(arg).set_data_handle(const_cast<void*>(ptr));
  execute(e.eltwise, dnn.stream(), e.args);
  dnn.stream().wait();
}

void eltwise_forward(const Stream& stream, algorithm alg, EltwiseOp op, const Tensor& x, const Tensor& y) {
  const int64_t n = x.numel();
  const DType dtype = x.dtype();
  auto make = [&](OneDnnContext& dnn) {
    const auto pd = forward_pd(dnn.engine(), alg, n, dtype);
    dnn.record("eltwise_forward", pd.impl_info_str(), {n});
    return dnnl::primitive(dnnl::eltwise_forward(pd));
  };
  run_cached(stream, op, n, dtype, make, {{DNNL_ARG_SRC, x.data()}, {DNNL_ARG_DST, y.data()}});
}

// dx = dy · act'(x), overwriting dx.
void eltwise_backward(const Stream& stream, algorithm alg, EltwiseOp op, const Tensor& dy, const Tensor& x,
                      const Tensor& dx) {
  const int64_t n = x.numel();
  const DType dtype = x.dtype();
  auto make = [&](OneDnnContext& dnn) {
    const auto hint = forward_pd(dnn.engine(), alg, n, dtype);
    const dnnl::eltwise_backward::primitive_desc pd(
        dnnl::eltwise_backward::desc(alg, flat_desc(n, dtype), flat_desc(n, dtype), 0.f, 0.f), user_scratchpad_attr(),
        dnn.engine(), hint);
    dnn.record("eltwise_backward", pd.impl_info_str(), {n});
    return dnnl::primitive(dnnl::eltwise_backward(pd));
  };
  run_cached(stream, op, n, dtype, make,
             {{DNNL_ARG_SRC, x.data()}, {DNNL_ARG_DIFF_DST, dy.data()}, {DNNL_ARG_DIFF_SRC, dx.data()}});
}

}  // namespace

void gelu_forward(const Stream& stream, const GeluForwardArgs& a) {
  try {
    eltwise_forward(stream, algorithm::eltwise_gelu_erf, EltwiseOp::kGeluForward, a.x, a.y);
  } catch (const dnnl::error& e) {
    rethrow_onednn_error("gelu_forward", e);
  }
}

void gelu_backward(const Stream& stream, const GeluBackwardArgs& a) {
  SPRINT_CHECK(a.mode == GradMode::kOverwrite, "oneDNN gelu_backward overwrites dx");
  try {
    eltwise_backward(stream, algorithm::eltwise_gelu_erf, EltwiseOp::kGeluBackward, a.dy, a.x, a.dx);
  } catch (const dnnl::error& e) {
    rethrow_onednn_error("gelu_backward", e);
  }
}

}  // namespace sprint::cpu::onednn
