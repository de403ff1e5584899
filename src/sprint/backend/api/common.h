// common.h: vocabulary shared by every op family's backend interface.
#pragma once

#include <cstdint>
#include <string_view>

namespace sprint {

/// How an op writes a gradient: kOverwrite assigns it, kAccumulate adds to what is there (gradient
/// accumulation, shared weights, residual branches).
enum class GradMode : uint8_t { kOverwrite, kAccumulate };

/// Activation fused into an op's epilogue.
enum class Activation : uint8_t { kNone, kReLU };

std::string_view activation_name(Activation activation);

}  // namespace sprint
