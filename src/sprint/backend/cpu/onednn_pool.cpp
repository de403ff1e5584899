// onednn_pool.cpp: average pooling forward and backward through oneDNN (f32) on the caller's layout (NHWC is
// oneDNN's fastest, NCHW runs its ncsp kernel; pooling is memory-bound, so no reorders). Max pooling has its own
// loops (max_pool_forward.cpp, pool.cpp): sprint's API promises i32 input-plane indices h·W + w, which oneDNN's
// workspace would have to be converted into, and its NCHW max-pool kernel is a plain loop.
#include "sprint/backend/cpu/onednn_common.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

enum class PoolOp : int64_t { kAvgForward = 22, kAvgBackward };

algorithm avg_algorithm(const Pool2dParams& p) {
  return p.count_include_pad ? algorithm::pooling_avg_include_padding
                             : algorithm::pooling_avg_exclude_padding;
}

dnnl::pooling_forward::desc forward_desc(algorithm alg, const Tensor& x, const Tensor& y,
                                         const Pool2dParams& p) {
  return dnnl::pooling_forward::desc(prop_kind::forward_training, alg, user_desc(x), user_desc(y),
                                     {p.stride, p.stride}, {p.kernel, p.kernel}, {p.padding, p.padding},
                                     {p.padding, p.padding});
}

dnnl::pooling_backward::desc backward_desc(algorithm alg, const Tensor& dx, const Tensor& dy,
                                           const Pool2dParams& p) {
  return dnnl::pooling_backward::desc(alg, user_desc(dx), user_desc(dy), {p.stride, p.stride},
                                      {p.kernel, p.kernel}, {p.padding, p.padding}, {p.padding, p.padding});
}

PrimitiveKey pool_key(PoolOp op, int threads, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  PrimitiveKey key;
  key.add(static_cast<int64_t>(op)).add(threads).add_tensor(x).add_tensor(y);
  key.add(p.kernel).add(p.stride).add(p.padding).add(p.count_include_pad);
  return key;
}

struct ForwardEntry : CachedPrimitive {
  dnnl::pooling_forward pool;
};

struct BackwardEntry : CachedPrimitive {
  dnnl::pooling_backward pool;
  Staged diff_src;
};

void run_forward(const Stream& stream, algorithm alg, const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  int threads = 1;
  OneDnnContext& dnn = onednn_context(stream, &threads);
  const PrimitiveKey key = pool_key(PoolOp::kAvgForward, threads, x, y, p);
  auto& e = dnn.cached<ForwardEntry>(key, [&] {
    auto entry = std::make_unique<ForwardEntry>();
    const dnnl::pooling_forward::primitive_desc pd(forward_desc(alg, x, y, p), user_scratchpad_attr(), dnn.engine());
    dnn.record("pooling_forward", pd.impl_info_str(), dims_of(x));
    entry->pool = dnnl::pooling_forward(pd);
    entry->args = {{DNNL_ARG_SRC, memory(user_desc(x), dnn.engine(), DNNL_MEMORY_NONE)},
                   {DNNL_ARG_DST, memory(user_desc(y), dnn.engine(), DNNL_MEMORY_NONE)}};
    return entry.release();
  });
  std::lock_guard<std::mutex> lock(e.mutex);
  e.args.at(DNNL_ARG_SRC).set_data_handle(x.data());
  e.args.at(DNNL_ARG_DST).set_data_handle(y.data());
  execute(e.pool, dnn.stream(), e.args);
  dnn.stream().wait();
}

// Average pooling backward.
void run_backward(const Stream& stream, algorithm alg, const Tensor& dy, const Tensor& dx,
                  const Pool2dParams& p, GradMode mode) {
  const bool accumulate = mode == GradMode::kAccumulate;
  int threads = 1;
  OneDnnContext& dnn = onednn_context(stream, &threads);
  PrimitiveKey key = pool_key(PoolOp::kAvgBackward, threads, dx, dy, p);
  key.add(accumulate);
  auto& e = dnn.cached<BackwardEntry>(key, [&] {
    auto entry = std::make_unique<BackwardEntry>();
    const dnnl::pooling_forward::primitive_desc hint(forward_desc(alg, dx, dy, p), dnn.engine());
    const dnnl::pooling_backward::primitive_desc pd(backward_desc(alg, dx, dy, p), user_scratchpad_attr(),
                                                    dnn.engine(), hint);
    dnn.record("pooling_backward", pd.impl_info_str(), dims_of(dx));
    entry->pool = dnnl::pooling_backward(pd);
    entry->diff_src.init_output(user_desc(dx), pd.diff_src_desc(), dnn, accumulate);
    entry->args = {{DNNL_ARG_DIFF_DST, memory(user_desc(dy), dnn.engine(), DNNL_MEMORY_NONE)},
                   {DNNL_ARG_DIFF_SRC, entry->diff_src.primitive_memory()}};
    return entry.release();
  });
  std::lock_guard<std::mutex> lock(e.mutex);
  e.args.at(DNNL_ARG_DIFF_DST).set_data_handle(dy.data());
  e.diff_src.output(dx.data());
  execute(e.pool, dnn.stream(), e.args);
  e.diff_src.finish_output(dnn.stream());
  dnn.stream().wait();
}

}  // namespace

void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& a) {
  try {
    run_forward(stream, avg_algorithm(a.params), a.x, a.y, a.params);
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("avg_pool2d_forward", err);
  }
}

void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& a) {
  try {
    run_backward(stream, avg_algorithm(a.params), a.dy, a.dx, a.params, a.mode);
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("avg_pool2d_backward", err);
  }
}

}  // namespace sprint::cpu::onednn
