// mpi_process_group.cpp: the MPI backend (MPI_COMM_WORLD). Collectives are MPI's non-blocking ones, polled until
// they complete or the group's timeout passes, so that a dead or hung rank becomes an error here instead of a
// hang. MPI is initialised once per process (thread level FUNNELED: only the training thread calls MPI) and
// finalised at exit, unless a collective timed out (finalising would wait for the missing rank).
#include <mpi.h>

#include <atomic>
#include <thread>

#include "sprint/dist/process_group.h"

namespace sprint::dist {
namespace {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  SPRINT_THROW(BackendError, "MPI {} failed: {}", what, std::string(text, static_cast<size_t>(length)));
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return MPI_FLOAT;
    case DType::kF64: return MPI_DOUBLE;
    case DType::kI32: return MPI_INT32_T;
    case DType::kI64: return MPI_INT64_T;
    case DType::kF16:
    case DType::kBF16:
    case DType::kU8: break;
  }
  SPRINT_THROW(InternalError, "MPI collective on {} (the process group stages those)", dtype_name(dtype));
}

int mpi_count(int64_t count) {
  SPRINT_CHECK(count <= INT32_MAX, "MPI collective of {} elements: at most 2^31 - 1 per call", count);
  return static_cast<int>(count);
}

// MPI for the life of the process.
class MpiRuntime {
 public:
  static MpiRuntime& get() {
    static MpiRuntime runtime;
    return runtime;
  }
  void mark_broken() { broken_ = true; }

 private:
  MpiRuntime() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "initialisation");
      owner_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiRuntime() {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (owner_ && !finalised && !broken_) MPI_Finalize();
  }
  bool owner_ = false;
  std::atomic<bool> broken_{false};
};

class MpiProcessGroup final : public ProcessGroup {
 public:
  MpiProcessGroup(int rank, int size, std::chrono::milliseconds timeout) : ProcessGroup(rank, size, timeout) {}
  std::string_view backend_name() const override { return "mpi"; }

 protected:
  void allreduce_sum(HostBuffer b) override {
    MPI_Request request;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.data, mpi_count(b.count), mpi_type(b.dtype), MPI_SUM, MPI_COMM_WORLD,
                             &request),
              "allreduce");
    wait(request, fmt::format("allreduce of {} {}", b.count, dtype_name(b.dtype)));
  }
  std::unique_ptr<HostRequest> start_allreduce_sum(HostBuffer b) override {
    auto pending = std::make_unique<Request>(*this, fmt::format("allreduce of {} {}", b.count, dtype_name(b.dtype)));
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.data, mpi_count(b.count), mpi_type(b.dtype), MPI_SUM, MPI_COMM_WORLD,
                             &pending->request),
              "allreduce");
    return pending;
  }
  void broadcast_host(HostBuffer b, int root) override {
    MPI_Request request;
    check_mpi(MPI_Ibcast(b.data, mpi_count(b.count), mpi_type(b.dtype), root, MPI_COMM_WORLD, &request),
              "broadcast");
    wait(request, fmt::format("broadcast of {} {} from rank {}", b.count, dtype_name(b.dtype), root));
  }
  void allgather_host(HostBuffer in, HostBuffer out) override {
    MPI_Request request;
    check_mpi(MPI_Iallgather(in.data, mpi_count(in.count), mpi_type(in.dtype), out.data, mpi_count(in.count),
                             mpi_type(out.dtype), MPI_COMM_WORLD, &request),
              "allgather");
    wait(request, fmt::format("allgather of {} {}", in.count, dtype_name(in.dtype)));
  }
  void reduce_scatter_sum(HostBuffer in, HostBuffer out) override {
    MPI_Request request;
    check_mpi(MPI_Ireduce_scatter_block(in.data, out.data, mpi_count(out.count), mpi_type(in.dtype), MPI_SUM,
                                        MPI_COMM_WORLD, &request),
              "reduce_scatter");
    wait(request, fmt::format("reduce_scatter of {} {}", in.count, dtype_name(in.dtype)));
  }
  void barrier_host() override {
    MPI_Request request;
    check_mpi(MPI_Ibarrier(MPI_COMM_WORLD, &request), "barrier");
    wait(request, "barrier");
  }

 private:
  // A non-blocking collective left running: test() is one MPI_Test (which is also what progresses it).
  struct Request final : HostRequest {
    Request(MpiProcessGroup& g, std::string w) : group(g), what(std::move(w)) {}
    bool test() override {
      if (done) return true;
      int flag = 0;
      check_mpi(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), what.c_str());
      done = flag != 0;
      return done;
    }
    void wait() override {
      if (!done) group.wait(request, what);
      done = true;
    }
    MpiProcessGroup& group;
    std::string what;
    MPI_Request request = MPI_REQUEST_NULL;
    bool done = false;
  };

  // Polls until the request completes: a few spins, then sleeps of up to 1 ms (a collective that waits for a
  // slower rank must not take a core from it on a machine with as many ranks as cores).
  void wait(MPI_Request& request, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + timeout();
    auto pause = std::chrono::microseconds(0);
    for (int polls = 0;; ++polls) {
      int done = 0;
      check_mpi(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what.c_str());
      if (done) return;
      if (std::chrono::steady_clock::now() > deadline) {
        MpiRuntime::get().mark_broken();
        fail_timeout(what);
      }
      if (polls < 64) continue;
      pause = std::min(std::chrono::microseconds(1000), pause + std::chrono::microseconds(20));
      std::this_thread::sleep_for(pause);
    }
  }
};

}  // namespace

std::unique_ptr<ProcessGroup> make_mpi_process_group(std::chrono::milliseconds timeout) {
  MpiRuntime::get();
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "rank query");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "size query");
  return std::make_unique<MpiProcessGroup>(rank, size, timeout);
}

}  // namespace sprint::dist
