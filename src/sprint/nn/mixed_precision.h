// mixed_precision.h: turning a built model into a mixed-precision one (automatic mixed precision as PyTorch's
// autocast + GradScaler recipe does it, made explicit): convolutions and linear layers compute in f16 or bf16
// from f32 master weights (Parameter::use_compute_dtype), BatchNorm keeps f32 parameters and statistics (its
// kernels take half activations with f32 per-channel tensors), and Cast layers at the network's edges take
// the f32 input into the compute dtype and the logits back to f32 for the loss. Parameter paths do not
// change.
#pragma once

#include "sprint/nn/models.h"

namespace sprint::nn {

/// In place, after the model moved to its device. InvalidArgument unless compute is f16 or bf16 and the
/// model's parameters are f32.
void use_mixed_precision(Model& model, DType compute, const Stream& stream);

}  // namespace sprint::nn
