// optimizer.h (ops): fused multi-tensor parameter updates (SGD family, Adam/AdamW).
#pragma once

#include "sprint/backend/api/optimizer.h"
#include "sprint/ops/dispatch.h"

namespace sprint::ops {

void sgd_update(const Stream& stream, const SgdUpdateArgs& args);
void adam_update(const Stream& stream, const AdamUpdateArgs& args);
void step_values_select(const Stream& stream, const StepValuesSelectArgs& args);

}  // namespace sprint::ops
