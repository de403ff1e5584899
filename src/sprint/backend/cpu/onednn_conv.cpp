// onednn_conv.cpp: Conv2d forward / backward-data / backward-weight through oneDNN, in f32, and in bf16 where
// the CPU has AMX-BF16 (bf16 activations and weights, f32 accumulation, weight gradients in f32 or bf16).
// Channel-blocked and channels-last activations go to the primitives as they are (no reorder); NCHW ones
// are reordered into the blocked layout oneDNN picks and back at the op's edges. KCRS weights are reordered into
// the kernel's weight layout on each call (a few KB to a few MB, small beside the activations). A bf16 call for
// which oneDNN has only its reference kernel runs nothing and returns false (the caller widens to f32).
#include "sprint/backend/cpu/onednn_common.h"
#include "sprint/backend/cpu/isa_policy.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using dnnl::prop_kind;

enum class ConvOp : int64_t { kForward = 1, kBackwardData, kBackwardWeight };

/// Layout the primitive computes in for activation `t` of a call whose other activation is `other`.
/// Channel-blocked tensors (oneDNN's nChw8c / nChw16c, the layout its jit kernels are written for) and NHWC ones
/// run as they are, so activations that keep one layout from layer to layer are never reordered. NCHW tensors,
/// and a plain tensor meeting a blocked one (the network's input), let oneDNN choose: NCHW direct runs gemm
/// kernels, 1.6-2x slower a pass, so they are reordered into the blocked layout at the op's edge.
/// Measured (resnet18, batch 64, 2 Zen 3 cores): blocked convolutions take 1.77 s a step, NHWC ones 2.94 s.
memory::desc activation_desc(const Tensor& t, const Tensor& other) {
  if (t.is_channel_blocked()) return user_desc(t);
  if (t.memory_format() == MemoryFormat::kChannelsLast && !other.is_channel_blocked()) return user_desc(t);
  // A network's input (1 or 3 channels) next to a blocked tensor: oneDNN's first-layer kernels read it as it is;
  // reordering it would pad its channels to a whole block (8x the work of a 1-channel backward-weight pass).
  if (other.is_channel_blocked() && t.dim(1) < other.channel_block()) return user_desc(t);
  return any_desc(dims_of(t), t.dtype());
}

/// x is a plain network input with fewer channels than a block (readable as NHWC) and dy is channel-blocked.
bool first_layer_pair(const Tensor& x, const Tensor& dy) {
  return !x.is_channel_blocked() && dy.is_channel_blocked() && x.dim(1) < dy.channel_block() &&
         (x.memory_format() == MemoryFormat::kChannelsLast || x.dim(1) == 1);
}

/// NHWC descriptor of a 4-D tensor's dims (the tensor itself may be NHWC, or NCHW with C == 1).
memory::desc nhwc_desc(const Tensor& t) {
  return memory::desc(dims_of(t), data_type_of(t.dtype()), memory::format_tag::acdb);
}

struct Geometry {
  memory::dims strides, dilates, padding;
};

Geometry geometry(const Conv2dParams& p) {
  // oneDNN counts dilation from 0 (0 = dense).
  return {{p.stride, p.stride}, {p.dilation - 1, p.dilation - 1}, {p.padding, p.padding}};
}

PrimitiveKey conv_key(ConvOp op, int threads, const Tensor& x, const Tensor& w, const Tensor& y,
                      const Conv2dParams& p) {
  PrimitiveKey key;
  key.add(static_cast<int64_t>(op)).add(threads).add_tensor(x).add_tensor(y);
  for (int i = 0; i < 4; ++i) key.add(w.dim(i));
  key.add(p.stride).add(p.padding).add(p.dilation).add(p.groups);
  return key;
}

/// Forward descriptor shared by all three passes (backward primitives need it as a hint). Weights (of w's shape)
/// and bias are of x's dtype (the weight gradient of a backward-weight pass may be f32 beside bf16 operands).
dnnl::convolution_forward::primitive_desc forward_pd(const dnnl::engine& engine, const Tensor& x,
                                                     const Tensor& w, const Tensor& y, const Conv2dParams& p,
                                                     bool bias, Activation activation) {
  const Geometry g = geometry(p);
  const memory::desc bias_md =
      bias ? memory::desc({w.dim(0)}, data_type_of(x.dtype()), memory::format_tag::x) : memory::desc();
  dnnl::primitive_attr attr = user_scratchpad_attr();
  switch (activation) {
    case Activation::kNone: break;
    case Activation::kReLU: {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
      break;
    }
  }
  auto make_pd = [&](const memory::desc& xd, const memory::desc& yd) {
    dnnl::convolution_forward::desc desc(prop_kind::forward_training, algorithm::convolution_direct, xd,
                                         any_desc(weight_dims(w, p.groups), x.dtype()), bias_md, yd, g.strides,
                                         g.dilates, g.padding, g.padding);
    return dnnl::convolution_forward::primitive_desc(desc, attr, engine);
  };
  auto pd = make_pd(activation_desc(x, y), activation_desc(y, x));
  // No fast kernel for these layouts (see conv2d_backward_weight): let oneDNN choose them.
  if (is_reference_implementation(pd.impl_info_str()))
    pd = make_pd(any_desc(dims_of(x), x.dtype()), any_desc(dims_of(y), y.dtype()));
  return pd;
}


// ------------------------------------------------------------------------------------------------------------
// Cached entries
// ------------------------------------------------------------------------------------------------------------
struct ForwardEntry : CachedPrimitive {
  bool native = true;  // false: bf16 operands without a fast kernel (nothing else is set)
  dnnl::convolution_forward conv;
  Staged src, weights, dst;
  memory bias;
};

struct BackwardDataEntry : CachedPrimitive {
  bool native = true;
  dnnl::convolution_backward_data conv;
  Staged diff_dst, weights, diff_src;
};

struct BackwardWeightEntry : CachedPrimitive {
  bool native = true;
  dnnl::convolution_backward_weights conv;
  Staged src, diff_dst, diff_weights, diff_bias;
  bool bias = false;
};

}  // namespace

// ------------------------------------------------------------------------------------------------------------
// Entry points
// ------------------------------------------------------------------------------------------------------------
int64_t channel_block() {
  if (!apply_isa_policy().empty()) return 8;  // AVX2 Winograd on 8-channel blocks (isa_policy.h)
  // oneDNN's ISA values are nested bit sets: every AVX-512 core ISA contains avx512_core's bits.
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto avx512 = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
  return (isa & avx512) == avx512 ? 16 : 8;
}

bool has_bf16_convolutions() {
  if (!apply_isa_policy().empty()) return false;  // an ISA cap below AVX-512 (isa_policy.h)
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto amx = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_amx);
  return (isa & amx) == amx;
}

bool conv2d_forward(const Stream& stream, const Conv2dForwardArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const bool bias = a.b.defined();
    PrimitiveKey key = conv_key(ConvOp::kForward, threads, a.x, a.w, a.y, a.params);
    key.add(bias).add(static_cast<int64_t>(a.activation));
    auto& e = dnn.cached<ForwardEntry>(key, [&] {
      auto entry = std::make_unique<ForwardEntry>();
      const auto pd = forward_pd(dnn.engine(), a.x, a.w, a.y, a.params, bias, a.activation);
      entry->native = has_fast_kernel(a.x, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("convolution_forward", pd.impl_info_str(), dims_of(a.x));
      entry->conv = dnnl::convolution_forward(pd);
      entry->src.init_input(user_desc(a.x), pd.src_desc(), dnn);
      entry->weights.init_input(weight_desc(a.w, a.params.groups), pd.weights_desc(), dnn, kWeightReorderForward);
      entry->dst.init_output(user_desc(a.y), pd.dst_desc(), dnn, /*accumulate=*/false);
      entry->args = {{DNNL_ARG_SRC, entry->src.primitive_memory()},
                     {DNNL_ARG_WEIGHTS, entry->weights.primitive_memory()},
                     {DNNL_ARG_DST, entry->dst.primitive_memory()}};
      if (bias) {
        entry->bias = memory(pd.bias_desc(), dnn.engine(), DNNL_MEMORY_NONE);
        entry->args.emplace(DNNL_ARG_BIAS, entry->bias);
      }
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    dnnl::stream& s = dnn.stream();
    e.src.input(s, a.x.data());
    e.weights.input(s, a.w.data());
    e.dst.output(a.y.data());
    if (bias) e.bias.set_data_handle(a.b.data());
    execute(e.conv, s, e.args);
    e.dst.finish_output(s);
    s.wait();
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("conv2d_forward", err);
  }
}

bool conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const bool accumulate = a.mode == GradMode::kAccumulate;
    PrimitiveKey key = conv_key(ConvOp::kBackwardData, threads, a.dx, a.w, a.dy, a.params);
    key.add(accumulate);
    auto& e = dnn.cached<BackwardDataEntry>(key, [&] {
      auto entry = std::make_unique<BackwardDataEntry>();
      const Geometry g = geometry(a.params);
      const auto hint = forward_pd(dnn.engine(), a.dx, a.w, a.dy, a.params, false, Activation::kNone);
      auto make_pd = [&](const memory::desc& dxd, const memory::desc& dyd) {
        dnnl::convolution_backward_data::desc desc(algorithm::convolution_direct, dxd,
                                                   any_desc(weight_dims(a.w, a.params.groups), a.w.dtype()), dyd,
                                                   g.strides, g.dilates, g.padding, g.padding);
        return dnnl::convolution_backward_data::primitive_desc(desc, user_scratchpad_attr(), dnn.engine(), hint);
      };
      auto pd = make_pd(activation_desc(a.dx, a.dy), activation_desc(a.dy, a.dx));
      if (is_reference_implementation(pd.impl_info_str()))
        pd = make_pd(any_desc(dims_of(a.dx), a.dx.dtype()), any_desc(dims_of(a.dy), a.dy.dtype()));
      entry->native = has_fast_kernel(a.dy, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("convolution_backward_data", pd.impl_info_str(), dims_of(a.dx));
      entry->conv = dnnl::convolution_backward_data(pd);
      entry->diff_dst.init_input(user_desc(a.dy), pd.diff_dst_desc(), dnn);
      entry->weights.init_input(weight_desc(a.w, a.params.groups), pd.weights_desc(), dnn,
                                kWeightReorderBackwardData);
      entry->diff_src.init_output(user_desc(a.dx), pd.diff_src_desc(), dnn, accumulate);
      entry->args = {{DNNL_ARG_DIFF_DST, entry->diff_dst.primitive_memory()},
                     {DNNL_ARG_WEIGHTS, entry->weights.primitive_memory()},
                     {DNNL_ARG_DIFF_SRC, entry->diff_src.primitive_memory()}};
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    dnnl::stream& s = dnn.stream();
    e.diff_dst.input(s, a.dy.data());
    e.weights.input(s, a.w.data());
    e.diff_src.output(a.dx.data());
    execute(e.conv, s, e.args);
    e.diff_src.finish_output(s);
    s.wait();
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("conv2d_backward_data", err);
  }
}

bool conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const bool accumulate = a.mode == GradMode::kAccumulate;
    const bool want_db = a.db.defined();
    SPRINT_ASSERT(a.dw.defined(),
                  "conv2d_backward_weight (oneDNN) needs dw; bias-only gradients use the loops");
    const Tensor& w = a.dw;
    PrimitiveKey key = conv_key(ConvOp::kBackwardWeight, threads, a.x, w, a.dy, a.params);
    key.add(accumulate).add(want_db).add(static_cast<int64_t>(w.dtype()));
    auto& e = dnn.cached<BackwardWeightEntry>(key, [&] {
      auto entry = std::make_unique<BackwardWeightEntry>();
      const Geometry g = geometry(a.params);
      const auto hint = forward_pd(dnn.engine(), a.x, w, a.dy, a.params, want_db, Activation::kNone);
      const memory::desc bias_md =
          want_db ? memory::desc({a.db.dim(0)}, data_type_of(a.db.dtype()), memory::format_tag::x)
                  : memory::desc();
      // The network's input x (NHWC, or NCHW with one channel, which is the same bytes) next to a blocked dy:
      // oneDNN has no jit kernel for that pair. Reordering dy to NHWC and running the NHWC kernel beats padding
      // x's channels to a block (cnn conv1, batch 64, one Zen 3 core: 1.8 + 1.4 ms vs 5.5 ms).
      const bool first_layer = first_layer_pair(a.x, a.dy);
      memory::desc x_desc = activation_desc(a.x, a.dy), dy_desc = activation_desc(a.dy, a.x);
      if (first_layer) {
        x_desc = nhwc_desc(a.x);
        dy_desc = nhwc_desc(a.dy);
      }
      auto make_pd = [&](const memory::desc& xd, const memory::desc& dyd) {
        dnnl::convolution_backward_weights::desc desc(algorithm::convolution_direct, xd,
                                                      any_desc(weight_dims(w, a.params.groups), w.dtype()), bias_md,
                                                      dyd, g.strides, g.dilates, g.padding, g.padding);
        return dnnl::convolution_backward_weights::primitive_desc(desc, user_scratchpad_attr(), dnn.engine(),
                                                                    hint);
      };
      auto pd = make_pd(x_desc, dy_desc);
      // Some small shapes (a 3x3 kernel over a 2x2 plane) have only oneDNN's reference kernel in the blocked
      // layout: let it choose the layouts then (reorders at this op beat a reference loop).
      if (is_reference_implementation(pd.impl_info_str()))
        pd = make_pd(any_desc(dims_of(a.x), a.x.dtype()), any_desc(dims_of(a.dy), a.dy.dtype()));
      entry->native = has_fast_kernel(a.x, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("convolution_backward_weights", pd.impl_info_str(), dims_of(a.x));
      entry->conv = dnnl::convolution_backward_weights(pd);
      entry->src.init_input(first_layer && pd.src_desc() == nhwc_desc(a.x) ? nhwc_desc(a.x) : user_desc(a.x),
                            pd.src_desc(), dnn);
      entry->diff_dst.init_input(user_desc(a.dy), pd.diff_dst_desc(), dnn,
                                 first_layer ? "reorder (first layer)" : "reorder");
      entry->diff_weights.init_output(weight_desc(w, a.params.groups), pd.diff_weights_desc(), dnn,
                                      accumulate, /*has_user=*/true, kWeightReorderGradient);
      entry->bias = want_db;
      entry->args = {{DNNL_ARG_SRC, entry->src.primitive_memory()},
                     {DNNL_ARG_DIFF_DST, entry->diff_dst.primitive_memory()},
                     {DNNL_ARG_DIFF_WEIGHTS, entry->diff_weights.primitive_memory()}};
      if (want_db) {
        entry->diff_bias.init_output(bias_md, pd.diff_bias_desc(), dnn, accumulate);
        entry->args.emplace(DNNL_ARG_DIFF_BIAS, entry->diff_bias.primitive_memory());
      }
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    dnnl::stream& s = dnn.stream();
    e.src.input(s, a.x.data());
    e.diff_dst.input(s, a.dy.data());
    e.diff_weights.output(a.dw.data());
    if (e.bias) e.diff_bias.output(a.db.data());
    execute(e.conv, s, e.args);
    e.diff_weights.finish_output(s);
    if (e.bias) e.diff_bias.finish_output(s);
    s.wait();
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("conv2d_backward_weight", err);
  }
}

}  // namespace sprint::cpu::onednn
