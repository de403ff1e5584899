// data.cpp (ops): validation + dispatch for gather_normalize and gather_labels.
#include "sprint/ops/data.h"

#include <cmath>

#include "sprint/ops/augment.h"

namespace sprint::ops {
namespace {
using GatherNormalizeFn = void (*)(const Stream&, const GatherNormalizeArgs&);
using GatherLabelsFn = void (*)(const Stream&, const GatherLabelsArgs&);
const BackendTable<GatherNormalizeFn> kGatherNormalize{"gather_normalize", &cpu::gather_normalize,
                                                       SPRINT_CUDA_IMPL(cuda::gather_normalize)};
const BackendTable<GatherLabelsFn> kGatherLabels{"gather_labels", &cpu::gather_labels,
                                                 SPRINT_CUDA_IMPL(cuda::gather_labels)};

void check_indices(const Tensor& indices, const char* op) {
  SPRINT_CHECK(indices.defined() && indices.dtype() == DType::kI32 && indices.ndim() == 1,
               "{}: indices must be i32 (N), got {}", op, indices.description());
}
}  // namespace

void gather_normalize(const Stream& stream, const GatherNormalizeArgs& a) {
  constexpr const char* op = "gather_normalize";
  SPRINT_CHECK(a.src.defined() && a.out.defined(), "{}: src and out must be defined", op);
  check_indices(a.indices, op);
  const int64_t n = a.indices.dim(0);
  check_floating(a.out, op);
  if (a.src.dtype() == DType::kU8) {
    SPRINT_CHECK(a.src.ndim() == 4, "{}: u8 images must be (M, C, H, W), got {}", op, a.src.description());
    const int64_t c = a.src.dim(1);
    check_shape(a.out, {n, c, a.src.dim(2), a.src.dim(3)}, "gather_normalize out");
    SPRINT_CHECK(a.out.is_contiguous() || a.out.is_channels_last(),
                 "{}: out must be contiguous or channels-last, got {}", op, a.out.description());
    SPRINT_CHECK(a.mean.size() == a.std.size() && (a.mean.empty() || a.mean.size() == static_cast<size_t>(c)),
                 "{}: mean and std need {} entries each (one per channel) or none, got {} and {}", op, c,
                 a.mean.size(), a.std.size());
    for (size_t i = 0; i < a.std.size(); ++i)
      SPRINT_CHECK(std::isfinite(a.mean[i]) && std::isfinite(a.std[i]) && a.std[i] != 0.0f,
                   "{}: channel {} has mean {} and std {}: both must be finite and std non-zero", op, i,
                   a.mean[i], a.std[i]);
    if (a.augment.enabled()) check_augment(a.augment, a.src.dim(2), a.src.dim(3), op);
  } else {
    SPRINT_CHECK(!a.augment.enabled(), "{}: augmentation needs u8 images (M, C, H, W), got {}", op,
                 a.src.description());
    SPRINT_CHECK(dtype_is_floating(a.src.dtype()) && a.src.ndim() == 2,
                 "{}: src must be u8 images (M, C, H, W) or floating features (M, F), got {}", op,
                 a.src.description());
    check_shape(a.out, {n, a.src.dim(1)}, "gather_normalize out");
    SPRINT_CHECK(a.mean.empty() && a.std.empty(),
                 "{}: feature data is not normalised: mean and std must be empty", op);
  }
  check_on_stream_device(stream, {&a.src, &a.indices, &a.out}, op);
  check_contiguous({&a.src, &a.indices}, op);
  if (a.src.dtype() != DType::kU8) check_contiguous({&a.out}, op);
  check_no_alias(a.out, {&a.src, &a.indices}, op);
  kGatherNormalize.select(stream.device())(stream, a);
}

void gather_labels(const Stream& stream, const GatherLabelsArgs& a) {
  constexpr const char* op = "gather_labels";
  check_indices(a.indices, op);
  SPRINT_CHECK(a.labels.defined() && a.labels.dtype() == DType::kI32 && a.labels.ndim() == 1,
               "{}: labels must be i32 (M), got {}", op, a.labels.description());
  check_shape(a.out, {a.indices.dim(0)}, "gather_labels out");
  SPRINT_CHECK(a.out.dtype() == DType::kI32, "{}: out must be i32, got {}", op, a.out.description());
  SPRINT_CHECK(a.num_classes >= 0, "{}: num_classes must be >= 0, got {}", op, a.num_classes);
  check_on_stream_device(stream, {&a.labels, &a.indices, &a.out}, op);
  check_contiguous({&a.labels, &a.indices, &a.out}, op);
  check_no_alias(a.out, {&a.labels, &a.indices}, op);
  kGatherLabels.select(stream.device())(stream, a);
}

}  // namespace sprint::ops
