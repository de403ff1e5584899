// pool.h (backend interface): 2-D max and average pooling over square windows, and global average / max
// pooling (N, C, H, W) -> (N, C). x, y, dx, dy and indices of one call are all NCHW or all NHWC (4-D ones);
// (N, C) tensors are contiguous. Output extent: P = (H + 2·padding − kernel) / stride + 1 (floor), Q likewise.
// Max-pool indices are i32 flat positions h·W + w inside the input plane (PyTorch's return_indices convention).
#pragma once

#include "sprint/backend/api/common.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/stream.h"

namespace sprint {

/// Square window; padding <= kernel / 2 (every window overlaps the input).
struct Pool2dParams {
  int64_t kernel = 2;
  int64_t stride = 2;
  int64_t padding = 0;
  /// Average pooling only: divide by kernel² (true, PyTorch's default) or by the number of in-bounds taps.
  bool count_include_pad = true;
};

/// Output extent along one spatial axis; 0 when the window does not fit the padded input.
inline int64_t pool2d_output_size(int64_t in, const Pool2dParams& p) {
  const int64_t last_start = in + 2 * p.padding - p.kernel;
  return last_start < 0 ? 0 : last_start / p.stride + 1;
}

/// y = max over each window (padding never wins); indices = where each max came from (first on ties).
struct MaxPool2dForwardArgs {
  const Tensor& x;        ///< (N, C, H, W)
  const Tensor& y;        ///< (N, C, P, Q), same format as x; must not alias x
  const Tensor& indices;  ///< (N, C, P, Q) i32, same format as y, or undefined (inference: not needed)
  Pool2dParams params;
};
/// dx (=|+=) scatter-add of dy to the positions in indices (overlapping windows add up).
struct MaxPool2dBackwardArgs {
  const Tensor& dy;       ///< (N, C, P, Q)
  const Tensor& indices;  ///< (N, C, P, Q) i32 from forward
  const Tensor& dx;       ///< (N, C, H, W), same format as dy; must not alias dy
  Pool2dParams params;
  GradMode mode = GradMode::kOverwrite;
};

struct AvgPool2dForwardArgs {
  const Tensor& x;  ///< (N, C, H, W)
  const Tensor& y;  ///< (N, C, P, Q), same format as x; must not alias x
  Pool2dParams params;
};
/// dx (=|+=) dy spread evenly over each window (with the forward's divisor).
struct AvgPool2dBackwardArgs {
  const Tensor& dy;  ///< (N, C, P, Q)
  const Tensor& dx;  ///< (N, C, H, W), same format as dy; must not alias dy
  Pool2dParams params;
  GradMode mode = GradMode::kOverwrite;
};

/// y[n, c] = mean (or max) of x[n, c, :, :]; for max, indices[n, c] = h·W + w of the (first) maximum.
struct GlobalPoolForwardArgs {
  const Tensor& x;        ///< (N, C, H, W)
  const Tensor& y;        ///< (N, C)
  const Tensor& indices;  ///< (N, C) i32 (max only; undefined for average or inference)
};
/// dx (=|+=) dy / (H·W) everywhere (average), or dy at indices and 0 elsewhere (max).
struct GlobalPoolBackwardArgs {
  const Tensor& dy;       ///< (N, C)
  const Tensor& indices;  ///< (N, C) i32 (max only; undefined for average)
  const Tensor& dx;       ///< (N, C, H, W)
  GradMode mode = GradMode::kOverwrite;
};

namespace cpu {
/// Fast paths (f32): oneDNN for average pooling; vectorised loops for max pooling (values and indices in one
/// pass forward, through the indices backward) and global pooling.
void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& args);
void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& args);
void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& args);
void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& args);
void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);
void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);
namespace ref {
void max_pool2d_forward(const MaxPool2dForwardArgs& args);
void max_pool2d_backward(const MaxPool2dBackwardArgs& args);
void avg_pool2d_forward(const AvgPool2dForwardArgs& args);
void avg_pool2d_backward(const AvgPool2dBackwardArgs& args);
void global_avg_pool2d_forward(const GlobalPoolForwardArgs& args);
void global_avg_pool2d_backward(const GlobalPoolBackwardArgs& args);
void global_max_pool2d_forward(const GlobalPoolForwardArgs& args);
void global_max_pool2d_backward(const GlobalPoolBackwardArgs& args);
}  // namespace ref
}  // namespace cpu

namespace cuda {
void max_pool2d_forward(const Stream& stream, const MaxPool2dForwardArgs& args);
void max_pool2d_backward(const Stream& stream, const MaxPool2dBackwardArgs& args);
void avg_pool2d_forward(const Stream& stream, const AvgPool2dForwardArgs& args);
void avg_pool2d_backward(const Stream& stream, const AvgPool2dBackwardArgs& args);
void global_avg_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_avg_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);
void global_max_pool2d_forward(const Stream& stream, const GlobalPoolForwardArgs& args);
void global_max_pool2d_backward(const Stream& stream, const GlobalPoolBackwardArgs& args);
}  // namespace cuda

}  // namespace sprint
