// process_group.cpp: ProcessGroup's staging (half and device tensors), argument checks, traffic counters, and the
// single-process group.
#include "sprint/dist/process_group.h"

#include <cstdlib>
#include <cstring>

#include "sprint/config.h"
#include "sprint/ops/elementwise.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::dist {
namespace {

// The dtype a tensor travels in: half precision is reduced in f32.
DType wire_dtype(DType dtype, const char* op) {
  switch (dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16: return DType::kF32;
    case DType::kF64: return DType::kF64;
    case DType::kI32: return DType::kI32;
    case DType::kI64: return DType::kI64;
    case DType::kU8: break;
  }
  SPRINT_THROW(Unsupported, "{}: collectives take f32, f64, f16, bf16, i32 or i64 tensors, not {}", op,
               dtype_name(dtype));
}

const Stream& host_stream() {
  static const Stream s = cpu_context().compute_stream();
  return s;
}

// A contiguous host tensor of the wire dtype holding t's values (t itself when it already is one).
struct Staged {
  Tensor host;
  bool is_copy = false;
};

Staged stage(const Stream& stream, const Tensor& t, bool with_values, const char* op) {
  SPRINT_CHECK(t.defined(), "{}: undefined tensor", op);
  const DType wire = wire_dtype(t.dtype(), op);
  if (t.device().is_cpu() && t.is_contiguous() && t.dtype() == wire) return {t, false};
  Tensor host = Tensor::empty(t.shape(), wire);
  if (with_values) ops::copy(host_stream(), t.device().is_cpu() ? t : ops::to_host(stream, t), host);
  return {host, true};
}

// Writes a staged copy back into t (converting to t's dtype and layout, and to t's device).
void unstage(const Stream& stream, const Staged& staged, const Tensor& t) {
  if (!staged.is_copy) return;
  if (t.device().is_cpu()) return ops::copy(host_stream(), staged.host, t);
  const Tensor typed = ops::cast_to(host_stream(), staged.host, t.dtype());
  if (t.is_contiguous()) {
    ops::copy(stream, typed, t);
  } else {
    const Tensor on_device = ops::to_stream_device(stream, typed);
    ops::copy(stream, on_device, t);
  }
  stream.synchronize();
}

// The mean over ranks is of floating tensors only: checked before any rank communicates.
void check_mean(const Tensor& t, std::optional<ReduceOp> op) {
  if (op != ReduceOp::kAverage || !t.defined() || dtype_is_floating(t.dtype())) return;
  SPRINT_THROW(Unsupported, "the mean over ranks needs a floating tensor, got {}", t.description());
}

// host (f32 or f64, the wire dtypes of floating tensors) *= factor.
void scale(const Tensor& host, double factor) {
  switch (host.dtype()) {
    case DType::kF32: {
      float* p = host.data_as<float>();
      for (int64_t i = 0; i < host.numel(); ++i) p[i] = static_cast<float>(p[i] * factor);
      return;
    }
    case DType::kF64: {
      double* p = host.data_as<double>();
      for (int64_t i = 0; i < host.numel(); ++i) p[i] *= factor;
      return;
    }
    case DType::kF16:
    case DType::kBF16:
    case DType::kI32:
    case DType::kI64:
    case DType::kU8: break;
  }
  SPRINT_THROW(InternalError, "scaling a {} wire buffer (check_mean admits floating tensors only)",
               host.description());
}

}  // namespace

ProcessGroup::ProcessGroup(int rank, int size, std::chrono::milliseconds timeout)
    : rank_(rank), size_(size), timeout_(timeout) {
  SPRINT_CHECK(size >= 1 && rank >= 0 && rank < size, "process group: rank {} of {} is not a rank", rank, size);
  SPRINT_CHECK(timeout.count() > 0, "process group: the timeout must be positive, got {} ms", timeout.count());
}

void ProcessGroup::check_usable(const char* op) const {
  if (broken_) SPRINT_THROW(DistTimeout, "rank {}: {} on a broken process group ({})", rank_, op, broken_reason_);
}

void ProcessGroup::fail_timeout(const std::string& what) {
  fail(fmt::format("{} did not complete within {} s: another rank has exited, crashed or hangs", what,
                   timeout_.count() / 1000.0));
}

void ProcessGroup::fail(const std::string& reason) {
  broken_ = true;
  broken_reason_ = reason;
  SPRINT_THROW(DistTimeout, "rank {} of {}: {}", rank_, size_, reason);
}

// Backends without device collectives admit no tensor, so these are never called.
bool ProcessGroup::reduces_on_device(const Tensor&) const { return false; }
void ProcessGroup::allreduce_on_device(const Stream&, const Tensor&, ReduceOp) {
  SPRINT_THROW(InternalError, "{}: no device collectives", backend_name());
}
std::unique_ptr<PendingCollective> ProcessGroup::start_allreduce_on_device(const Stream&, const Tensor&, ReduceOp) {
  SPRINT_THROW(InternalError, "{}: no device collectives", backend_name());
}
void ProcessGroup::broadcast_on_device(const Stream&, const Tensor&, int) {
  SPRINT_THROW(InternalError, "{}: no device collectives", backend_name());
}
void ProcessGroup::allgather_on_device(const Stream&, const Tensor&, const Tensor&) {
  SPRINT_THROW(InternalError, "{}: no device collectives", backend_name());
}
void ProcessGroup::reduce_scatter_on_device(const Stream&, const Tensor&, const Tensor&, ReduceOp) {
  SPRINT_THROW(InternalError, "{}: no device collectives", backend_name());
}

void ProcessGroup::count(int64_t bytes) {
  ++traffic_.collectives;
  traffic_.bytes += bytes;
}

void ProcessGroup::allreduce(const Stream& stream, const Tensor& t, ReduceOp op) {
  constexpr const char* name = "allreduce";
  check_usable(name);
  check_mean(t, op);
  if (reduces_on_device(t)) {
    count(static_cast<int64_t>(t.n_bytes()));
    return allreduce_on_device(stream, t, op);
  }
  Staged s = stage(stream, t, true, name);
  const HostBuffer buffer{s.host.data(), s.host.numel(), s.host.dtype()};
  count(static_cast<int64_t>(s.host.n_bytes()));
  if (size_ > 1) allreduce_sum(buffer);
  switch (op) {
    case ReduceOp::kSum: break;
    case ReduceOp::kAverage: scale(s.host, 1.0 / size_); break;
  }
  unstage(stream, s, t);
}

namespace {
class DoneRequest final : public ProcessGroup::HostRequest {
 public:
  bool test() override { return true; }
  void wait() override {}
};
}  // namespace

std::unique_ptr<ProcessGroup::HostRequest> ProcessGroup::start_allreduce_sum(HostBuffer buffer) {
  allreduce_sum(buffer);
  return std::make_unique<DoneRequest>();
}

// An all-reduce in flight: the staged host copy, the backend's request, and where the result goes.
class PendingAllreduce final : public PendingCollective {
 public:
  PendingAllreduce(ProcessGroup& group, const Stream& stream, const Tensor& t, ReduceOp op)
      : group_(group), stream_(stream), tensor_(t), op_(op), staged_(stage(stream, t, true, "allreduce")) {
    group.count(static_cast<int64_t>(staged_.host.n_bytes()));
    if (group.size() > 1)
      request_ = group.start_allreduce_sum({staged_.host.data(), staged_.host.numel(), staged_.host.dtype()});
  }
  ~PendingAllreduce() override {
    if (done_ || !request_) return;
    try {
      request_->wait();
    } catch (const Error&) {  // the group is broken; the caller is already unwinding from its own error
    }
  }
  bool test() override { return done_ || !request_ || request_->test(); }
  void wait() override {
    if (done_) return;
    if (request_) request_->wait();
    done_ = true;
    switch (op_) {
      case ReduceOp::kSum: break;
      case ReduceOp::kAverage: scale(staged_.host, 1.0 / group_.size()); break;
    }
    unstage(stream_, staged_, tensor_);
  }

 private:
  ProcessGroup& group_;
  Stream stream_;
  Tensor tensor_;
  ReduceOp op_;
  Staged staged_;
  std::unique_ptr<ProcessGroup::HostRequest> request_;
  bool done_ = false;
};

std::unique_ptr<PendingCollective> ProcessGroup::allreduce_async(const Stream& stream, const Tensor& t,
                                                                 ReduceOp op) {
  check_usable("allreduce");
  check_mean(t, op);
  if (reduces_on_device(t)) {
    count(static_cast<int64_t>(t.n_bytes()));
    return start_allreduce_on_device(stream, t, op);
  }
  return std::make_unique<PendingAllreduce>(*this, stream, t, op);
}

void ProcessGroup::broadcast(const Stream& stream, const Tensor& t, int root) {
  constexpr const char* name = "broadcast";
  check_usable(name);
  SPRINT_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of {}", root, size_);
  if (reduces_on_device(t)) {
    count(static_cast<int64_t>(t.n_bytes()));
    return broadcast_on_device(stream, t, root);
  }
  Staged s = stage(stream, t, true, name);
  count(static_cast<int64_t>(s.host.n_bytes()));
  if (size_ > 1) broadcast_host({s.host.data(), s.host.numel(), s.host.dtype()}, root);
  unstage(stream, s, t);
}

void ProcessGroup::in_to_out(const Stream& stream, const Tensor& in, const Tensor& out, const char* name,
                             std::optional<ReduceOp> op) {
  check_usable(name);
  check_mean(in, op);
  if (reduces_on_device(in) && reduces_on_device(out)) {
    count(static_cast<int64_t>(in.n_bytes()));
    if (op) return reduce_scatter_on_device(stream, in, out, *op);
    return allgather_on_device(stream, in, out);
  }
  Staged si = stage(stream, in, true, name);
  Staged so = stage(stream, out, false, name);
  count(static_cast<int64_t>(si.host.n_bytes()));
  const HostBuffer from{si.host.data(), si.host.numel(), si.host.dtype()};
  const HostBuffer to{so.host.data(), so.host.numel(), so.host.dtype()};
  if (size_ == 1) {
    std::memcpy(so.host.data(), si.host.data(), so.host.n_bytes());
  } else if (op) {
    reduce_scatter_sum(from, to);
  } else {
    allgather_host(from, to);
  }
  if (op == ReduceOp::kAverage) scale(so.host, 1.0 / size_);
  unstage(stream, so, out);
}

void ProcessGroup::allgather(const Stream& stream, const Tensor& in, const Tensor& out) {
  SPRINT_CHECK(in.defined() && out.defined() && out.numel() == in.numel() * size_ && in.dtype() == out.dtype(),
               "allgather: out must hold {} ranks x {} elements of in's dtype, got in {} and out {}", size_,
               in.defined() ? in.numel() : 0, in.description(), out.description());
  in_to_out(stream, in, out, "allgather", std::nullopt);
}

void ProcessGroup::reduce_scatter(const Stream& stream, const Tensor& in, const Tensor& out, ReduceOp op) {
  SPRINT_CHECK(in.defined() && out.defined() && in.numel() == out.numel() * size_ && in.dtype() == out.dtype(),
               "reduce_scatter: in must hold {} ranks x {} elements of out's dtype, got in {} and out {}", size_,
               out.defined() ? out.numel() : 0, in.description(), out.description());
  in_to_out(stream, in, out, "reduce_scatter", op);
}

void ProcessGroup::barrier() {
  check_usable("barrier");
  ++traffic_.collectives;
  if (size_ > 1) barrier_host();
}

// ------------------------------------------------------------------------------------------------------------
// One process
// ------------------------------------------------------------------------------------------------------------
namespace {
class SingleProcessGroup final : public ProcessGroup {
 public:
  SingleProcessGroup() : ProcessGroup(0, 1, std::chrono::hours(1)) {}
  std::string_view backend_name() const override { return "single"; }

 protected:
  // A group of one never calls these (the base class handles size 1).
  void allreduce_sum(HostBuffer) override {}
  void broadcast_host(HostBuffer, int) override {}
  void allgather_host(HostBuffer, HostBuffer) override {}
  void reduce_scatter_sum(HostBuffer, HostBuffer) override {}
  void barrier_host() override {}
};
}  // namespace

std::unique_ptr<ProcessGroup> make_single_process_group() { return std::make_unique<SingleProcessGroup>(); }

bool mpi_built() { return SPRINT_HAS_MPI != 0; }

#if !SPRINT_HAS_MPI
std::unique_ptr<ProcessGroup> make_mpi_process_group(std::chrono::milliseconds) {
  SPRINT_THROW(Unsupported, "this sprint was built without MPI (apt-get install libopenmpi-dev openmpi-bin, "
                            "then reconfigure): --distributed needs it");
}
#endif

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace sprint::dist
