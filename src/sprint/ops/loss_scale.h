// loss_scale.h (ops): dynamic loss scaling (backend/api/loss_scale.h), validated and dispatched by device.
#pragma once

#include "sprint/backend/api/loss_scale.h"

namespace sprint::ops {

void loss_scale_apply(const Stream& stream, const LossScaleApplyArgs& args);
void loss_scale_unscale(const Stream& stream, const LossScaleUnscaleArgs& args);
void loss_scale_update(const Stream& stream, const LossScaleUpdateArgs& args);

}  // namespace sprint::ops
