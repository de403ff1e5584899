// image_checks.cpp: shared validation for 4-D image ops.
#include "sprint/ops/image_checks.h"

namespace sprint::ops {
namespace {
// Layout-neutral tensors (C == 1 or H·W == 1, not blocked) hold the same bytes in NCHW and NHWC.
bool layout_neutral(const Tensor& t) {
  return !t.is_channel_blocked() && (t.dim(1) == 1 || t.dim(2) * t.dim(3) == 1);
}

bool plain(MemoryFormat f) { return channel_block(f) == 0 && weight_block(f) == 0; }
}  // namespace

MemoryFormat check_image(const Tensor& t, const char* name, const char* op) {
  SPRINT_CHECK(t.defined(), "{}: {} is undefined", op, name);
  SPRINT_CHECK(t.ndim() == 4, "{}: {} must be 4-D (N, C, H, W), got {}", op, name, t.description());
  SPRINT_CHECK(t.is_contiguous() || t.is_channels_last() || t.is_channel_blocked(),
               "{}: {} must be stored NCHW, NHWC or channel-blocked, got strides {}", op, name,
               t.strides().to_string());
  return t.memory_format();
}

void check_same_format(MemoryFormat format, std::initializer_list<const Tensor*> tensors, const char* op) {
  for (const Tensor* t : tensors) {
    if (!t->defined() || t->ndim() != 4) continue;
    if (layout_neutral(*t) && plain(format)) continue;
    SPRINT_CHECK(t->memory_format() == format,
                 "{}: tensors of one call share a memory format; expected {}, got {}", op,
                 memory_format_name(format), t->description());
  }
}

void check_vector(const Tensor& t, int64_t n, DType dtype, const char* name, const char* op) {
  SPRINT_CHECK(t.defined(), "{}: {} is undefined", op, name);
  SPRINT_CHECK(t.ndim() == 1 && t.dim(0) == n, "{}: {} must have shape [{}], got {}", op, name, n,
               t.description());
  SPRINT_CHECK(t.is_contiguous(), "{}: {} must be contiguous", op, name);
  SPRINT_CHECK(t.dtype() == dtype, "{}: {} must be {}, got {}", op, name, dtype_name(dtype), t.description());
}

void check_same_or_disjoint(const Tensor& out, const Tensor& in, const char* op) {
  if (!out.defined() || !in.defined() || !out.overlaps(in)) return;
  SPRINT_CHECK(out.storage_offset_bytes() == in.storage_offset_bytes() && out.strides() == in.strides() &&
                   out.shape() == in.shape(),
               "{}: output {} partially overlaps input {}", op, out.description(), in.description());
}

}  // namespace sprint::ops
