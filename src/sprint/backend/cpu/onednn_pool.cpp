// onednn_pool.cpp: max and average pooling through oneDNN (f32) on the caller's layout (NHWC is oneDNN's
// fastest, NCHW runs its ncsp kernel; pooling is memory-bound, so no reorders). oneDNN's max-pool workspace
// holds the position of each maximum inside its window (u8 in dst's layout); sprint's API promises i32
// input-plane indices h·W + w, so forward converts workspace -> indices. Max-pool backward is not here:
// pool.cpp scatters dy through the indices directly (one pass; converting back for oneDNN's backward, which
// scatters the same way, costs more).
#include "sprint/backend/cpu/onednn_common.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

enum class PoolOp : int64_t { kMaxForward = 21, kAvgForward, kAvgBackward };

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

/// Max-pool workspace: window positions r·kernel + s, u8 or s32, laid out like y (checked when created).
struct Workspace {
  memory mem;
  bool is_u8 = true;
};

Workspace make_workspace(const memory::desc& desc, const Tensor& y, const dnnl::engine& engine) {
  const auto& d = desc.data;
  SPRINT_ASSERT(d.format_kind == dnnl_blocked && d.format_desc.blocking.inner_nblks == 0,
                "oneDNN max-pool workspace is not a plain layout");
  for (int i = 0; i < 4; ++i)
    SPRINT_ASSERT(d.format_desc.blocking.strides[i] == y.strides()[i],
                  "oneDNN max-pool workspace strides differ from the output's");
  SPRINT_ASSERT(d.data_type == dnnl_u8 || d.data_type == dnnl_s32, "unexpected max-pool workspace type");
  return {memory(desc, engine), d.data_type == dnnl_u8};
}

/// Converts workspace window positions k = r·kernel + s into input-plane indices h·W + w, in y's memory
/// order. K > 0 fixes the kernel size at compile time so that the inner loops vectorise (K = 0: any kernel).
template <int K, class W>
void workspace_to_indices(const W* ws, int32_t* idx, const Tensor& y, int64_t w_in, const Pool2dParams& p) {
  const int32_t kernel = K > 0 ? K : static_cast<int32_t>(p.kernel), width_in = static_cast<int32_t>(w_in);
  auto offset = [&](int32_t k) { return (k / kernel) * width_in + k % kernel; };
  const int64_t n_batch = y.dim(0), channels = y.dim(1), height = y.dim(2), width = y.dim(3);
  const bool nchw = y.memory_format() == MemoryFormat::kContiguous;
  for (int64_t outer = 0; outer < (nchw ? n_batch * channels : n_batch); ++outer)
    for (int64_t oh = 0; oh < height; ++oh) {
      const int32_t row = static_cast<int32_t>((oh * p.stride - p.padding) * w_in - p.padding);
      const int64_t first = (outer * height + oh) * width * (nchw ? 1 : channels);
      const W* in = ws + first;
      int32_t* out = idx + first;
      if (nchw) {
        for (int64_t ow = 0; ow < width; ++ow)
          out[ow] = row + static_cast<int32_t>(ow * p.stride) + offset(static_cast<int32_t>(in[ow]));
        continue;
      }
      for (int64_t ow = 0; ow < width; ++ow) {
        const int32_t base = row + static_cast<int32_t>(ow * p.stride);
        for (int64_t c = 0; c < channels; ++c)
          out[ow * channels + c] = base + offset(static_cast<int32_t>(in[ow * channels + c]));
      }
    }
}

template <class W>
void convert_workspace(const W* ws, int32_t* idx, const Tensor& y, int64_t w_in, const Pool2dParams& p) {
  switch (p.kernel) {
    case 2:
      return workspace_to_indices<2>(ws, idx, y, w_in, p);
    case 3:
      return workspace_to_indices<3>(ws, idx, y, w_in, p);
    default:
      return workspace_to_indices<0>(ws, idx, y, w_in, p);
  }
}

struct ForwardEntry : CachedPrimitive {
  dnnl::pooling_forward pool;
  Workspace ws;  // max only
};

struct BackwardEntry : CachedPrimitive {
  dnnl::pooling_backward pool;
  Staged diff_src;
};

void run_forward(const Stream& stream, algorithm alg, const Tensor& x, const Tensor& y, const Tensor& indices,
                 const Pool2dParams& p) {
  const bool max = alg == algorithm::pooling_max;
  int threads = 1;
  OneDnnContext& dnn = onednn_context(stream, &threads);
  const PrimitiveKey key = pool_key(max ? PoolOp::kMaxForward : PoolOp::kAvgForward, threads, x, y, p);
  auto& e = dnn.cached<ForwardEntry>(key, [&] {
    auto entry = std::make_unique<ForwardEntry>();
    const dnnl::pooling_forward::primitive_desc pd(forward_desc(alg, x, y, p), dnn.engine());
    entry->pool = dnnl::pooling_forward(pd);
    entry->args = {{DNNL_ARG_SRC, memory(user_desc(x), dnn.engine(), DNNL_MEMORY_NONE)},
                   {DNNL_ARG_DST, memory(user_desc(y), dnn.engine(), DNNL_MEMORY_NONE)}};
    if (max) {
      entry->ws = make_workspace(pd.workspace_desc(), y, dnn.engine());
      entry->args.emplace(DNNL_ARG_WORKSPACE, entry->ws.mem);
    }
    return entry.release();
  });
  std::lock_guard<std::mutex> lock(e.mutex);
  e.args.at(DNNL_ARG_SRC).set_data_handle(x.data());
  e.args.at(DNNL_ARG_DST).set_data_handle(y.data());
  e.pool.execute(dnn.stream(), e.args);
  dnn.stream().wait();
  if (!max || !indices.defined()) return;
  int32_t* idx = indices.data_as<int32_t>();
  if (e.ws.is_u8) {
    convert_workspace(static_cast<const uint8_t*>(e.ws.mem.get_data_handle()), idx, y, x.dim(3), p);
  } else {
    convert_workspace(static_cast<const int32_t*>(e.ws.mem.get_data_handle()), idx, y, x.dim(3), p);
  }
}

// Average pooling backward (max pooling scatters through its indices instead: pool.cpp).
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
    const dnnl::pooling_backward::primitive_desc pd(backward_desc(alg, dx, dy, p), dnn.engine(), hint);
    entry->pool = dnnl::pooling_backward(pd);
    entry->diff_src.init_output(user_desc(dx), pd.diff_src_desc(), dnn.engine(), accumulate);
    entry->args = {{DNNL_ARG_DIFF_DST, memory(user_desc(dy), dnn.engine(), DNNL_MEMORY_NONE)},
                   {DNNL_ARG_DIFF_SRC, entry->diff_src.primitive_memory()}};
    return entry.release();
  });
  std::lock_guard<std::mutex> lock(e.mutex);
  e.args.at(DNNL_ARG_DIFF_DST).set_data_handle(dy.data());
  e.diff_src.output(dx.data());
  e.pool.execute(dnn.stream(), e.args);
  e.diff_src.finish_output(dnn.stream());
  dnn.stream().wait();
}

}  // namespace

void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& a) {
  try {
    run_forward(stream, algorithm::pooling_max, a.x, a.y, a.indices, a.params);
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("max_pool2d_forward", err);
  }
}

void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& a) {
  try {
    run_forward(stream, avg_algorithm(a.params), a.x, a.y, Tensor(), a.params);
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
