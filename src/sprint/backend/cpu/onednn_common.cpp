// onednn_common.cpp: oneDNN engine/stream per CpuContext, the primitive cache key, descriptors and Staged.
#include "sprint/backend/cpu/onednn_common.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/onednn_ops.h"

namespace sprint::cpu::onednn {

// ------------------------------------------------------------------------------------------------------------
// Key
// ------------------------------------------------------------------------------------------------------------
PrimitiveKey& PrimitiveKey::add(int64_t value) {
  SPRINT_ASSERT(n_ < kCapacity, "PrimitiveKey holds at most {} values", kCapacity);
  values_[static_cast<size_t>(n_++)] = value;
  return *this;
}

PrimitiveKey& PrimitiveKey::add_tensor(const Tensor& t) {
  if (!t.defined()) return add(-1);
  add(static_cast<int64_t>(t.dtype()));
  add(t.ndim());
  for (int i = 0; i < t.ndim(); ++i) add(t.dim(i));
  for (int i = 0; i < t.ndim(); ++i) add(t.strides()[i]);
  add(t.channel_block());
  return add(t.weight_block());
}

PrimitiveKey& PrimitiveKey::add_double(double value) {
  int64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  return add(bits);
}

size_t PrimitiveKey::hash() const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the values
  for (int i = 0; i < n_; ++i) {
    h ^= static_cast<uint64_t>(values_[static_cast<size_t>(i)]);
    h *= 1099511628211ull;
  }
  return static_cast<size_t>(h);
}

bool operator==(const PrimitiveKey& a, const PrimitiveKey& b) {
  if (a.n_ != b.n_) return false;
  for (int i = 0; i < a.n_; ++i)
    if (a.values_[static_cast<size_t>(i)] != b.values_[static_cast<size_t>(i)]) return false;
  return true;
}

// ------------------------------------------------------------------------------------------------------------
// Context
// ------------------------------------------------------------------------------------------------------------
OneDnnContext::OneDnnContext(DeviceContext&) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

size_t OneDnnContext::cache_size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.size();
}

OneDnnContext& onednn_context(const Stream& stream, int* n_threads) {
  const int threads = sync_threads(stream);
  if (n_threads) *n_threads = threads;
  return context_of(stream).extension<OneDnnContext>();
}

size_t cached_primitive_count(const Stream& stream) {
  return context_of(stream).extension<OneDnnContext>().cache_size();
}

void OneDnnContext::record(std::string kind, const std::string& implementation, const dnnl::memory::dims& dims) {
  std::lock_guard<std::mutex> lock(records_mutex_);
  records_.push_back({std::move(kind), implementation, std::vector<int64_t>(dims.begin(), dims.end())});
}

std::vector<PrimitiveInfo> OneDnnContext::records() {
  std::lock_guard<std::mutex> lock(records_mutex_);
  return records_;
}

std::vector<PrimitiveInfo> created_primitives(const Stream& stream) {
  return context_of(stream).extension<OneDnnContext>().records();
}

// ------------------------------------------------------------------------------------------------------------
// Descriptors
// ------------------------------------------------------------------------------------------------------------
dnnl::memory::data_type data_type_of(DType dtype) {
  switch (dtype) {
    case DType::kF32: return dnnl::memory::data_type::f32;
    case DType::kBF16: return dnnl::memory::data_type::bf16;
    default: SPRINT_THROW(Unsupported, "sprint's oneDNN paths take f32 and bf16 tensors, got {}", dtype_name(dtype));
  }
}

dnnl::memory::desc user_desc(const Tensor& t) {
  const dnnl::memory::data_type type = data_type_of(t.dtype());
  if (t.is_channel_blocked()) {
    using tag = dnnl::memory::format_tag;
    return dnnl::memory::desc(dims_of(t), type, t.channel_block() == 8 ? tag::aBcd8b : tag::aBcd16b);
  }
  dnnl::memory::dims strides(t.strides().begin(), t.strides().end());
  return dnnl::memory::desc(dims_of(t), type, strides);
}

dnnl::memory::dims weight_dims(const Tensor& w, int64_t groups) {
  if (groups == 1) return dims_of(w);
  return {groups, w.dim(0) / groups, w.dim(1), w.dim(2), w.dim(3)};
}

dnnl::memory::desc weight_desc(const Tensor& w, int64_t groups) {
  using tag = dnnl::memory::format_tag;
  const dnnl::memory::data_type type = data_type_of(w.dtype());
  if (w.is_weight_blocked()) {  // groups == 1 (checked by ops::conv2d_*)
    return dnnl::memory::desc(dims_of(w), type, w.weight_block() == 8 ? tag::ABcd8b8a : tag::ABcd16b16a);
  }
  return dnnl::memory::desc(weight_dims(w, groups), type, groups == 1 ? tag::oihw : tag::goihw);
}

dnnl::memory::desc any_desc(const dnnl::memory::dims& dims, DType dtype) {
  return dnnl::memory::desc(dims, data_type_of(dtype), dnnl::memory::format_tag::any);
}

bool is_reference_implementation(const std::string& impl) {
  return impl.rfind("ref", 0) == 0 || impl.find("simple") != std::string::npos;
}

bool has_fast_kernel(const Tensor& operand, const std::string& implementation) {
  return operand.dtype() == DType::kF32 || !is_reference_implementation(implementation);
}

void rethrow_onednn_error(const char* op, const dnnl::error& e) {
  SPRINT_THROW(BackendError, "oneDNN failed in {}: {} (status {})", op, e.what(), static_cast<int>(e.status));
}

// ------------------------------------------------------------------------------------------------------------
// Scratchpads
// ------------------------------------------------------------------------------------------------------------
namespace {

// The calling thread's scratch buffer, grown to at least `bytes` (its contents are not kept).
void* thread_scratch(size_t bytes) {
  struct Buffer {
    void* data = nullptr;
    size_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffer;
  if (bytes > buffer.size) {
    constexpr size_t kAlign = 4096;  // page-aligned, as oneDNN's own scratchpad
    void* fresh = std::aligned_alloc(kAlign, (bytes + kAlign - 1) / kAlign * kAlign);
    if (fresh == nullptr) throw std::bad_alloc();
    std::free(buffer.data);
    buffer.data = fresh;
    buffer.size = bytes;
  }
  return buffer.data;
}

const dnnl_memory_desc_t* scratchpad_md(const dnnl::primitive& primitive) {
  const_dnnl_primitive_desc_t pd = primitive.get_primitive_desc();
  return dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
}

}  // namespace

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void execute(const dnnl::primitive& primitive, dnnl::stream& stream, std::unordered_map<int, dnnl::memory>& args) {
  const dnnl_memory_desc_t* md = scratchpad_md(primitive);
  const size_t bytes = md == nullptr ? 0 : dnnl_memory_desc_get_size(md);
  if (bytes > 0) {
    void* buffer = thread_scratch(bytes);
    // The map is the cached entry's: its scratchpad memory is made on the first run and re-pointed after.
    if (auto it = args.find(DNNL_ARG_SCRATCHPAD); it != args.end())
      it->second.set_data_handle(buffer);
    else
      args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(dnnl::memory::desc(*md), stream.get_engine(), buffer));
  }
  primitive.execute(stream, args);
}

// ------------------------------------------------------------------------------------------------------------
// Staged
// ------------------------------------------------------------------------------------------------------------
void Staged::init_input(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted, OneDnnContext& dnn,
                        const char* kind) {
  user_ = dnnl::memory(user, dnn.engine(), DNNL_MEMORY_NONE);
  staged_ = user != wanted;
  if (staged_) {
    internal_ = dnnl::memory(wanted, dnn.engine());
    const dnnl::reorder::primitive_desc pd(user_, internal_, user_scratchpad_attr());
    dnn.record(kind, pd.impl_info_str(), user.dims());
    reorder_.emplace(pd);
    reorder_args_ = {{DNNL_ARG_FROM, user_}, {DNNL_ARG_TO, internal_}};
  }
}

void Staged::init_output(const dnnl::memory::desc& user, const dnnl::memory::desc& wanted, OneDnnContext& dnn,
                         bool accumulate, bool has_user, const char* kind) {
  has_user_ = has_user;
  staged_ = !has_user || accumulate || user != wanted;
  if (staged_) internal_ = dnnl::memory(wanted, dnn.engine());
  if (!has_user) return;
  user_ = dnnl::memory(user, dnn.engine(), DNNL_MEMORY_NONE);
  if (!staged_) return;
  dnnl::primitive_attr attr = user_scratchpad_attr();
  if (accumulate) {
    dnnl::post_ops ops;
    ops.append_sum(1.0f);
    attr.set_post_ops(ops);
  }
  const dnnl::reorder::primitive_desc pd(internal_, user_, attr);
  dnn.record(accumulate && user == wanted ? std::string(kind) + " (accumulate)" : std::string(kind), pd.impl_info_str(),
             user.dims());
  reorder_.emplace(pd);
  reorder_args_ = {{DNNL_ARG_FROM, internal_}, {DNNL_ARG_TO, user_}};
}

dnnl::memory& Staged::input(dnnl::stream& stream, const void* data) {
  user_.set_data_handle(const_cast<void*>(data));
  if (!staged_) return user_;
  execute(*reorder_, stream, reorder_args_);
  return internal_;
}

dnnl::memory& Staged::output(void* data) {
  if (has_user_) user_.set_data_handle(data);
  return staged_ ? internal_ : user_;
}

void Staged::finish_output(dnnl::stream& stream) {
  if (staged_ && has_user_) execute(*reorder_, stream, reorder_args_);
}

}  // namespace sprint::cpu::onednn
