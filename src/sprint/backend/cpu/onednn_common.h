// onednn_common.h: what the onednn_*.cpp files share: the per-CpuContext oneDNN engine/stream and primitive cache
// (a DeviceContext extension, never a global), memory descriptors built from sprint tensors, and Staged, a
// primitive argument that reorders between the caller's layout and the one the primitive chose.
// Steady state: a cache hit sets data handles and executes; no primitive, memory object or buffer is created.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <dnnl.hpp>

#include "sprint/backend/cpu/onednn_ops.h"
#include "sprint/core/tensor.h"
#include "sprint/runtime/device_context.h"
#include "sprint/runtime/stream.h"

namespace sprint::cpu::onednn {

/// Identifies one cached primitive set: op kind, thread count, shapes, strides and options, as integers.
class PrimitiveKey {
 public:
  static constexpr int kCapacity = 48;
  PrimitiveKey& add(int64_t value);
  PrimitiveKey& add_tensor(const Tensor& t);  ///< defined flag, dtype, dims and strides
  PrimitiveKey& add_double(double value);
  size_t hash() const;
  friend bool operator==(const PrimitiveKey& a, const PrimitiveKey& b);

 private:
  std::array<int64_t, kCapacity> values_{};
  int n_ = 0;
};

struct PrimitiveKeyHash {
  size_t operator()(const PrimitiveKey& k) const { return k.hash(); }
};

/// The attributes every executed primitive is made with: its scratchpad is sprint's (scratchpad_mode::user).
/// oneDNN's default scratchpad is a buffer per thread sized when a primitive is created, so a cached primitive
/// run by a thread other than its creator (pipeline stages, each epoch's new stage threads) would write past that
/// thread's buffer.
dnnl::primitive_attr user_scratchpad_attr();

/// Runs `primitive` with `args` and, when it books a scratchpad, the calling thread's scratch buffer (one per
/// thread, grown to fit, as oneDNN's own; set as DNNL_ARG_SCRATCHPAD in `args`). Every execution goes through it.
void execute(const dnnl::primitive& primitive, dnnl::stream& stream, std::unordered_map<int, dnnl::memory>& args);

/// Base of one op's cached primitives and buffers. Calls lock `mutex` while they execute it. `args` is the
/// primitive's argument map, built once: dnnl::memory objects are handles, so setting a data handle on the
/// stored memory updates the map.
struct CachedPrimitive {
  virtual ~CachedPrimitive() = default;
  std::mutex mutex;
  std::unordered_map<int, dnnl::memory> args;
};

/// oneDNN state of one CpuContext: engine, in-order stream and the primitive cache.
class OneDnnContext final : public ContextExtension {
 public:
  explicit OneDnnContext(DeviceContext& context);

  dnnl::engine& engine() { return engine_; }
  dnnl::stream& stream() { return stream_; }

  /// The entry for `key`, built by make() (returning std::unique_ptr<E>) on first use.
  template <class E, class Make>
  E& cached(const PrimitiveKey& key, Make&& make) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, std::unique_ptr<CachedPrimitive>(make())).first;
    return static_cast<E&>(*it->second);
  }
  /// Number of cached entries (tests check that steady-state steps add none).
  size_t cache_size();
  /// Notes a created primitive (called where primitive descriptors are made, so on cache misses only).
  void record(std::string kind, const std::string& implementation, const dnnl::memory::dims& dims);
  std::vector<PrimitiveInfo> records();

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::mutex mutex_;
  std::unordered_map<PrimitiveKey, std::unique_ptr<CachedPrimitive>, PrimitiveKeyHash> cache_;
  std::mutex records_mutex_;
  std::vector<PrimitiveInfo> records_;
};

/// The OneDnnContext of a CPU stream; also applies the context's thread count (sync_threads).
OneDnnContext& onednn_context(const Stream& stream, int* n_threads = nullptr);

/// oneDNN's data type for f32 and bf16 (the dtypes sprint's oneDNN paths take); Unsupported otherwise.
dnnl::memory::data_type data_type_of(DType dtype);
/// Descriptor of the tensor's dtype (f32 or bf16) and layout: its dims and strides (NCHW, NHWC, a batch slice of
/// either, or 1-D), or oneDNN's nChw8c / nChw16c for a channel-blocked tensor.
dnnl::memory::desc user_desc(const Tensor& t);
/// Descriptor of a contiguous (K, C/G, R, S) weight, as oneDNN's (K, C, R, S) or (G, K/G, C/G, R, S), in its dtype.
dnnl::memory::desc weight_desc(const Tensor& w, int64_t groups);
dnnl::memory::dims weight_dims(const Tensor& w, int64_t groups);
/// Same dims with format_tag::any: lets the primitive pick its (blocked) layout.
dnnl::memory::desc any_desc(const dnnl::memory::dims& dims, DType dtype = DType::kF32);
inline dnnl::memory::dims dims_of(const Tensor& t) { return dnnl::memory::dims(t.shape().begin(), t.shape().end()); }

/// False for a bf16 primitive that would run oneDNN's reference kernel (its caller widens to f32 instead); true
/// for f32 operands, whatever kernel oneDNN chose.
bool has_fast_kernel(const Tensor& operand, const std::string& implementation);

/// Converts dnnl::error into sprint::BackendError naming the op.
[[noreturn]] void rethrow_onednn_error(const char* op, const dnnl::error& e);

/// One primitive argument seen from both sides: the caller's memory (handle set on every call) and, when the
/// primitive wants another layout or an output must be accumulated, an internal buffer plus the reorder.
class Staged {
 public:
  /// Input argument: `user` is reordered into `wanted` when they differ (the reorder is recorded in `dnn` as
  /// `kind`).
  void init_input(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted, OneDnnContext& dnn,
                  const char* kind = "reorder");
  /// Output argument: the primitive writes `wanted`; copied (accumulate: added) into `user` when they differ or
  /// when accumulating (recorded as `kind`, or `kind` + " (accumulate)" when only accumulating). `has_user`
  /// false: the output is discarded (an internal buffer receives it).
  void init_output(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted, OneDnnContext& dnn,
                   bool accumulate, bool has_user = true, const char* kind = "reorder");
  /// Input: points at `data`, reorders if needed, returns the memory to pass to the primitive.
  dnnl::memory& input(dnnl::stream& stream, const void* data);
  /// Output: points at `data` (may be null when !has_user) and returns the memory the primitive writes.
  dnnl::memory& output(void* data);
  /// Output: after the primitive ran, moves the result into the caller's memory if staged.
  void finish_output(dnnl::stream& stream);
  bool staged() const { return staged_; }
  /// The memory the primitive reads or writes (fixed once initialised: build execute() argument maps once).
  const dnnl::memory& primitive_memory() const { return staged_ ? internal_ : user_; }

 private:
  dnnl::memory user_, internal_;
  std::optional<dnnl::reorder> reorder_;
  std::unordered_map<int, dnnl::memory> reorder_args_;  // FROM and TO, built once (handles: see CachedPrimitive)
  bool staged_ = false;
  bool has_user_ = true;
};

}  // namespace sprint::cpu::onednn
