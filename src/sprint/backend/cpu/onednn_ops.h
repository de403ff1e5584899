// onednn_ops.h: the oneDNN fast paths of the CPU backend (f32; convolutions, BatchNorm and GELU also bf16), called
// by conv.cpp, norm.cpp, gelu.cpp and pool.cpp after they ruled out the reference. Kept apart from onednn_common.h so that those files never include dnnl.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sprint/backend/api/conv.h"
#include "sprint/backend/api/gelu.h"
#include "sprint/backend/api/norm.h"
#include "sprint/backend/api/pool.h"

namespace sprint::cpu::onednn {

/// Number of primitive sets cached for the stream's CpuContext (tests: steady-state steps create none).
size_t cached_primitive_count(const Stream& stream);

/// One oneDNN primitive the context created: its kind ("convolution_forward", "reorder", ...), the
/// implementation oneDNN chose ("jit:avx2", "brg:avx512_core", "ref:any", "simple_nchw:any") and the dims of the
/// tensor it was created for (a reorder: the tensor it converts). Tests read this log to prove that the steady
/// state runs no reference kernel and reorders no activation.
struct PrimitiveInfo {
  std::string kind;
  std::string implementation;
  std::vector<int64_t> dims;
};
/// Kinds of the reorders a convolution records for its weights (dims: the weights, K x C x R x S): weights that
/// are not in the layout a pass reads are reordered on every call of that pass.
inline constexpr const char* kWeightReorderForward = "reorder (weights, forward)";
inline constexpr const char* kWeightReorderBackwardData = "reorder (weights, backward data)";
inline constexpr const char* kWeightReorderGradient = "reorder (weight gradient)";
/// Every primitive created for the stream's CpuContext so far, in creation order.
std::vector<PrimitiveInfo> created_primitives(const Stream& stream);
/// True for oneDNN's reference implementations ("ref:any", "simple_nchw:any", ...), which sprint avoids.
bool is_reference_implementation(const std::string& impl);

/// Channels per block of the activation layout oneDNN's convolutions use on this CPU: 16 on AVX-512, else 8.
int64_t channel_block();

/// True when sprint runs bf16 convolutions on oneDNN's bf16 kernels: the CPU has AMX-BF16 (oneDNN's
/// avx512_core_amx). Their AMX kernels read channels-last activations; on nChw16c ones oneDNN 2.6 falls back to
/// its AVX512-BF16 kernels, which measured slower than its f32 ones (docs/benchmarks.md), and CPUs with
/// AVX512-BF16 alone keep widening bf16 operands to f32.
bool has_bf16_convolutions();

/// f32 operands, or bf16 ones (weight gradients f32 or bf16) where has_bf16_convolutions(). Return false, having
/// run nothing, when oneDNN has only its reference kernel for bf16 operands of this shape: the caller then runs
/// the f32 kernels on widened copies. f32 calls always run and return true.
bool conv2d_forward(const Stream& stream, const Conv2dForwardArgs& args);
bool conv2d_backward_data(const Stream& stream, const Conv2dBackwardDataArgs& args);
/// At least one of dw, db is defined.
bool conv2d_backward_weight(const Stream& stream, const Conv2dBackwardWeightArgs& args);

/// f32 activations, or bf16 ones (f32 per-channel tensors); false, having run nothing, when oneDNN has only its
/// reference kernel for bf16 activations of this shape (the caller widens them).
bool batch_norm_forward_training(const Stream& stream, const BatchNormTrainingArgs& args);
bool batch_norm_forward_inference(const Stream& stream, const BatchNormInferenceArgs& args);
bool batch_norm_backward(const Stream& stream, const BatchNormBackwardArgs& args);

void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& args);
/// f32 GELU over flat views; backward overwrites dx.
void gelu_forward(const Stream& stream, const GeluForwardArgs& args);
void gelu_backward(const Stream& stream, const GeluBackwardArgs& args);
void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& args);

}  // namespace sprint::cpu::onednn
