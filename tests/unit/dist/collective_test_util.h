// collective_test_util.h: what the process-group unit tests share: the host stream and a tensor's values.
#pragma once

#include <vector>

#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::dist {

inline const Stream& cpu() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

/// t's values (any dtype) as doubles, in logical order.
inline std::vector<double> values(const Tensor& t) {
  const Tensor f64 = ops::cast_to(cpu(), t, DType::kF64);
  return {f64.data_as<double>(), f64.data_as<double>() + f64.numel()};
}

}  // namespace sprint::dist
