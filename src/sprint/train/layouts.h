// layouts.h: the memory layouts a training run uses (sprint train --memory-format, the benchmarks' --format):
// the input batches' layout and the layout activations take from the first convolution on.
#pragma once

#include <optional>
#include <string_view>

#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint::train {

struct Layouts {
  MemoryFormat input = MemoryFormat::kContiguous;
  std::optional<MemoryFormat> activations;  ///< unset: the input's
};

/// `mode` auto: convolutional models run in the layout their convolutions are fastest in
/// (ops::preferred_activation_format): channels-last on CUDA (cuDNN's tensor cores read NHWC), oneDNN's
/// channel-blocked layout on the CPU, entered at the first convolution and left at the flatten/pooling before the
/// classifier; other models NCHW. nchw / nhwc: that layout all along. blocked: the CPU's blocked layout (an
/// InvalidArgument on CUDA). Anything else is an InvalidArgument. `compute` is the convolutions' dtype (mixed
/// precision's compute dtype): bf16 on a CPU with AMX-BF16 prefers channels-last.
Layouts choose_layouts(std::string_view mode, bool convolutional, const Stream& stream,
                       DType compute = DType::kF32);

}  // namespace sprint::train
