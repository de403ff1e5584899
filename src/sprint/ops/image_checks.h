// image_checks.h: validation shared by the front doors of the image op families (conv, norm, pool, dropout):
// 4-D (N, C, H, W) tensors stored NCHW or NHWC, one memory format per call, and exact-or-disjoint aliasing.
#pragma once

#include <initializer_list>

#include "sprint/core/tensor.h"

namespace sprint::ops {

/// `t` is a defined 4-D tensor stored NCHW (contiguous) or NHWC (channels-last); returns that format.
MemoryFormat check_image(const Tensor& t, const char* name, const char* op);
/// Every defined tensor in `tensors` is stored in `format` (4-D ones with C > 1 and H·W > 1 are compared;
/// smaller ones are the same bytes in both layouts).
void check_same_format(MemoryFormat format, std::initializer_list<const Tensor*> tensors, const char* op);
/// `t` is defined, 1-D with `n` elements, contiguous, of `dtype`.
void check_vector(const Tensor& t, int64_t n, DType dtype, const char* name, const char* op);
/// `out` and `in` are either the very same view (in place) or do not overlap.
void check_same_or_disjoint(const Tensor& out, const Tensor& in, const char* op);

}  // namespace sprint::ops
