// onednn_norm.cpp: BatchNorm2d through oneDNN (f32 activations, or bf16 ones on AMX-BF16 CPUs; per-channel
// tensors f32) on the caller's own layout (NCHW or NHWC; BN is
// memory-bound, a reorder would cost as much as the op). oneDNN works with the variance, sprint saves 1 /
// sqrt(var + eps): small per-channel loops convert between the two and update the running statistics.
#include <cmath>

#include "sprint/backend/cpu/layout4d.h"
#include "sprint/backend/cpu/onednn_common.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;

enum class NormOp : int64_t { kTraining = 11, kInference, kBackward };

normalization_flags flags_for(const Tensor& gamma, const Tensor& beta, bool global_stats) {
  auto flags = normalization_flags::none;
  if (gamma.defined()) flags = flags | normalization_flags::use_scale;
  if (beta.defined()) flags = flags | normalization_flags::use_shift;
  if (global_stats) flags = flags | normalization_flags::use_global_stats;
  return flags;
}

memory::desc channel_desc(int64_t channels) {
  return memory::desc({channels}, memory::data_type::f32, memory::format_tag::x);
}

/// Per-channel tensor memory (handle set per call) registered as argument `arg` when `t` is defined.
void bind_channel(std::unordered_map<int, memory>& args, int arg, const Tensor& t, const dnnl::engine& engine,
                  int64_t channels) {
  if (t.defined()) args.emplace(arg, memory(channel_desc(channels), engine, DNNL_MEMORY_NONE));
}

void set_channel(std::unordered_map<int, memory>& args, int arg, const Tensor& t) {
  if (t.defined()) args.at(arg).set_data_handle(t.data());
}

struct ForwardEntry : CachedPrimitive {
  bool native = true;  // false: bf16 activations with only a reference kernel (nothing else is set)
  dnnl::batch_normalization_forward bn;
  memory variance;  // training: oneDNN's batch variance (biased)
};

struct BackwardEntry : CachedPrimitive {
  bool native = true;
  dnnl::batch_normalization_backward bn;
  memory variance;  // 1 / invstd², with eps = 0 given to oneDNN
  memory shift;     // zeros: oneDNN wants the shift as an input whenever its gradient is computed
  memory diff_scale, diff_shift;
  Staged diff_src;
};


}  // namespace

bool batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const int64_t channels = a.x.dim(1);
    const auto flags = flags_for(a.gamma, a.beta, false);
    PrimitiveKey key;
    key.add(static_cast<int64_t>(NormOp::kTraining)).add(threads).add_tensor(a.x).add_tensor(a.y);
    key.add(static_cast<int64_t>(flags)).add_double(a.eps);
    auto& e = dnn.cached<ForwardEntry>(key, [&] {
      auto entry = std::make_unique<ForwardEntry>();
      dnnl::batch_normalization_forward::desc desc(prop_kind::forward_training, user_desc(a.x),
                                                   static_cast<float>(a.eps), flags);
      const dnnl::batch_normalization_forward::primitive_desc pd(desc, user_scratchpad_attr(), dnn.engine());
      entry->native = has_fast_kernel(a.x, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("batch_normalization_forward_training", pd.impl_info_str(), dims_of(a.x));
      entry->bn = dnnl::batch_normalization_forward(pd);
      entry->variance = memory(pd.variance_desc(), dnn.engine());
      entry->args = {{DNNL_ARG_SRC, memory(user_desc(a.x), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_DST, memory(user_desc(a.y), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_MEAN, memory(pd.mean_desc(), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_VARIANCE, entry->variance}};
      bind_channel(entry->args, DNNL_ARG_SCALE, a.gamma, dnn.engine(), channels);
      bind_channel(entry->args, DNNL_ARG_SHIFT, a.beta, dnn.engine(), channels);
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    e.args.at(DNNL_ARG_SRC).set_data_handle(a.x.data());
    e.args.at(DNNL_ARG_DST).set_data_handle(a.y.data());
    e.args.at(DNNL_ARG_MEAN).set_data_handle(a.save_mean.data());
    set_channel(e.args, DNNL_ARG_SCALE, a.gamma);
    set_channel(e.args, DNNL_ARG_SHIFT, a.beta);
    execute(e.bn, dnn.stream(), e.args);
    dnn.stream().wait();

    const float* mean = a.save_mean.data_as<float>();
    const float* var = static_cast<const float*>(e.variance.get_data_handle());
    float* invstd = a.save_invstd.data_as<float>();
    const double m = static_cast<double>(a.x.dim(0) * a.x.dim(2) * a.x.dim(3));
    for (int64_t c = 0; c < channels; ++c) invstd[c] = static_cast<float>(1.0 / std::sqrt(var[c] + a.eps));
    if (a.running_mean.defined()) {
      float* rm = a.running_mean.data_as<float>();
      float* rv = a.running_var.data_as<float>();
      const double mom = a.momentum, unbias = m / (m - 1.0);
      for (int64_t c = 0; c < channels; ++c) {
        rm[c] = static_cast<float>((1.0 - mom) * rm[c] + mom * mean[c]);
        rv[c] = static_cast<float>((1.0 - mom) * rv[c] + mom * var[c] * unbias);
      }
    }
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("batch_norm_forward_training", err);
  }
}

bool batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const int64_t channels = a.x.dim(1);
    const auto flags = flags_for(a.gamma, a.beta, true);
    PrimitiveKey key;
    key.add(static_cast<int64_t>(NormOp::kInference)).add(threads).add_tensor(a.x).add_tensor(a.y);
    key.add(static_cast<int64_t>(flags)).add_double(a.eps);
    auto& e = dnn.cached<ForwardEntry>(key, [&] {
      auto entry = std::make_unique<ForwardEntry>();
      dnnl::batch_normalization_forward::desc desc(prop_kind::forward_inference, user_desc(a.x),
                                                   static_cast<float>(a.eps), flags);
      const dnnl::batch_normalization_forward::primitive_desc pd(desc, user_scratchpad_attr(), dnn.engine());
      entry->native = has_fast_kernel(a.x, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("batch_normalization_forward_inference", pd.impl_info_str(), dims_of(a.x));
      entry->bn = dnnl::batch_normalization_forward(pd);
      entry->args = {{DNNL_ARG_SRC, memory(user_desc(a.x), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_DST, memory(user_desc(a.y), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_MEAN, memory(pd.mean_desc(), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_VARIANCE, memory(pd.variance_desc(), dnn.engine(), DNNL_MEMORY_NONE)}};
      bind_channel(entry->args, DNNL_ARG_SCALE, a.gamma, dnn.engine(), channels);
      bind_channel(entry->args, DNNL_ARG_SHIFT, a.beta, dnn.engine(), channels);
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    e.args.at(DNNL_ARG_SRC).set_data_handle(a.x.data());
    e.args.at(DNNL_ARG_DST).set_data_handle(a.y.data());
    e.args.at(DNNL_ARG_MEAN).set_data_handle(a.running_mean.data());
    e.args.at(DNNL_ARG_VARIANCE).set_data_handle(a.running_var.data());
    set_channel(e.args, DNNL_ARG_SCALE, a.gamma);
    set_channel(e.args, DNNL_ARG_SHIFT, a.beta);
    execute(e.bn, dnn.stream(), e.args);
    dnn.stream().wait();

    const float* rm = a.running_mean.data_as<float>();
    const float* rv = a.running_var.data_as<float>();
    for (int64_t c = 0; c < channels; ++c) {
      if (a.save_mean.defined()) a.save_mean.data_as<float>()[c] = rm[c];
      if (a.save_invstd.defined())
        a.save_invstd.data_as<float>()[c] =
            static_cast<float>(1.0 / std::sqrt(static_cast<double>(rv[c]) + a.eps));
    }
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("batch_norm_forward_inference", err);
  }
}

bool batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& a) {
  try {
    int threads = 1;
    OneDnnContext& dnn = onednn_context(stream, &threads);
    const int64_t channels = a.x.dim(1);
    // oneDNN 2.6 has no backward_data with a scale, so a defined gamma always computes its gradient (into a
    // scratch buffer when frozen); the shift never affects dx and is flagged only when its gradient is
    // wanted.
    const auto flags = flags_for(a.gamma, a.dbeta, !a.use_batch_stats);
    const bool params = a.gamma.defined() || a.dbeta.defined();
    const bool accumulate = a.dx_mode == GradMode::kAccumulate;
    PrimitiveKey key;
    key.add(static_cast<int64_t>(NormOp::kBackward)).add(threads).add_tensor(a.x).add_tensor(a.dy);
    key.add_tensor(a.dx).add(static_cast<int64_t>(flags)).add(accumulate);
    auto& e = dnn.cached<BackwardEntry>(key, [&] {
      auto entry = std::make_unique<BackwardEntry>();
      // eps = 0: the variance handed over is 1 / invstd², which already contains the forward's eps.
      dnnl::batch_normalization_forward::desc hint_desc(prop_kind::forward_training, user_desc(a.x), 0.0f,
                                                        flags);
      const dnnl::batch_normalization_forward::primitive_desc hint(hint_desc, dnn.engine());
      dnnl::batch_normalization_backward::desc desc(params ? prop_kind::backward : prop_kind::backward_data,
                                                    user_desc(a.dy), user_desc(a.x), 0.0f, flags);
      const dnnl::batch_normalization_backward::primitive_desc pd(desc, user_scratchpad_attr(), dnn.engine(), hint);
      entry->native = has_fast_kernel(a.x, pd.impl_info_str());
      if (!entry->native) return entry.release();
      dnn.record("batch_normalization_backward", pd.impl_info_str(), dims_of(a.x));
      entry->bn = dnnl::batch_normalization_backward(pd);
      entry->variance = memory(pd.variance_desc(), dnn.engine());
      const memory::desc dx_user = a.dx.defined() ? user_desc(a.dx) : pd.diff_src_desc();
      entry->diff_src.init_output(dx_user, pd.diff_src_desc(), dnn, accumulate, a.dx.defined());
      entry->args = {{DNNL_ARG_SRC, memory(user_desc(a.x), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_DIFF_DST, memory(user_desc(a.dy), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_MEAN, memory(pd.mean_desc(), dnn.engine(), DNNL_MEMORY_NONE)},
                     {DNNL_ARG_VARIANCE, entry->variance},
                     {DNNL_ARG_DIFF_SRC, entry->diff_src.primitive_memory()}};
      if (a.gamma.defined()) {
        bind_channel(entry->args, DNNL_ARG_SCALE, a.gamma, dnn.engine(), channels);
        entry->diff_scale = memory(channel_desc(channels), dnn.engine());
        entry->args.emplace(DNNL_ARG_DIFF_SCALE, entry->diff_scale);
      }
      if (a.dbeta.defined()) {
        entry->shift = memory(channel_desc(channels), dnn.engine());
        float* zeros = static_cast<float*>(entry->shift.get_data_handle());
        for (int64_t c = 0; c < channels; ++c) zeros[c] = 0.0f;
        entry->diff_shift = memory(channel_desc(channels), dnn.engine());
        entry->args.emplace(DNNL_ARG_SHIFT, entry->shift);
        entry->args.emplace(DNNL_ARG_DIFF_SHIFT, entry->diff_shift);
      }
      return entry.release();
    });
    if (!e.native) return false;
    std::lock_guard<std::mutex> lock(e.mutex);
    const float* invstd = a.save_invstd.data_as<float>();
    float* var = static_cast<float*>(e.variance.get_data_handle());
    for (int64_t c = 0; c < channels; ++c) var[c] = 1.0f / (invstd[c] * invstd[c]);
    e.args.at(DNNL_ARG_SRC).set_data_handle(a.x.data());
    e.args.at(DNNL_ARG_DIFF_DST).set_data_handle(a.dy.data());
    e.args.at(DNNL_ARG_MEAN).set_data_handle(a.save_mean.data());
    set_channel(e.args, DNNL_ARG_SCALE, a.gamma);
    e.diff_src.output(a.dx.defined() ? a.dx.data() : nullptr);
    execute(e.bn, dnn.stream(), e.args);
    e.diff_src.finish_output(dnn.stream());
    dnn.stream().wait();
    // oneDNN's backward writes non-zero values into the padding channels of a blocked dx (C % block != 0).
    if (a.dx.defined()) zero_channel_padding(a.dx);

    const bool acc_param = a.param_mode == GradMode::kAccumulate;
    auto store_param = [&](const Tensor& out, const memory& src) {
      if (!out.defined()) return;
      float* o = out.data_as<float>();
      const float* s = static_cast<const float*>(src.get_data_handle());
      for (int64_t c = 0; c < channels; ++c) o[c] = acc_param ? o[c] + s[c] : s[c];
    };
    store_param(a.dgamma, e.diff_scale);
    store_param(a.dbeta, e.diff_shift);
    return true;
  } catch (const dnnl::error& err) {
    rethrow_onednn_error("batch_norm_backward", err);
  }
}

}  // namespace sprint::cpu::onednn
