// layouts.cpp: choose_layouts.
#include "sprint/train/layouts.h"

#include "sprint/ops/conv.h"

namespace sprint::train {

Layouts choose_layouts(std::string_view mode, bool convolutional, const Stream& stream, DType compute) {
  if (mode == "nhwc") return {MemoryFormat::kChannelsLast, std::nullopt};
  if (mode == "nchw") return {MemoryFormat::kContiguous, std::nullopt};
  const bool blocked = mode == "blocked";
  if (!blocked && mode != "auto")
    SPRINT_THROW(InvalidArgument, "memory format must be auto, nchw, nhwc or blocked, got '{}'", mode);
  if (blocked && stream.device().is_cuda())
    SPRINT_THROW(InvalidArgument, "--memory-format blocked is a CPU layout; on {} use auto, nchw or nhwc",
                 device_name(stream.device()));
  if (!blocked && !convolutional) return {};
  const MemoryFormat preferred = ops::preferred_activation_format(stream, compute);
  if (preferred == MemoryFormat::kChannelsLast) return {MemoryFormat::kChannelsLast, std::nullopt};
  return {MemoryFormat::kContiguous, preferred};
}

}  // namespace sprint::train
