// cpu_threads_test.cpp: the CpuContext's thread count reaches OpenMP (which oneDNN reads) on every thread that runs
// CPU ops: OpenMP's count is a per-thread setting, so a thread that starts after another applied it, or that ran
// ops before the count changed, must get the context's count from its own next op.
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <omp.h>

#include "sprint/backend/cpu/cpu_common.h"
#include "sprint/backend/cpu/gemm.h"
#include "sprint/runtime/device_registry.h"

namespace sprint::cpu {
namespace {

// Restores the context's thread count (and the calling thread's OpenMP setting) when the test ends.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(cpu_context().num_threads()) {}
  ~ThreadCountGuard() {
    cpu_context().set_num_threads(saved_);
    sync_threads(cpu_context().compute_stream());
  }

 private:
  int saved_;
};

// What omp_get_max_threads() says on a thread that never ran a sprint op.
int default_omp_threads() {
  int n = 0;
  std::thread([&] { n = omp_get_max_threads(); }).join();
  return n;
}

// A count that differs from a fresh thread's default, so that an unapplied setting shows: 2, or 3 where 2 is the
// default (two cores, or OMP_NUM_THREADS=2).
int count_unlike_default() { return default_omp_threads() == 2 ? 3 : 2; }

// A small CPU op that goes through sync_threads: C(4, 4) = A(4, 4) · I.
void run_cpu_op(const Stream& stream) {
  std::vector<float> a(16), identity(16, 0.0f), c(16, -1.0f);
  for (int i = 0; i < 16; ++i) a[i] = static_cast<float>(i);
  for (int i = 0; i < 4; ++i) identity[i * 4 + i] = 1.0f;
  sgemm(stream, false, false, 4, 4, 4, 1.0f, a.data(), 4, identity.data(), 4, 0.0f, c.data(), 4);
  EXPECT_EQ(c, a);
}

TEST(CpuThreads, ANewThreadGetsTheContextCountOnItsFirstOp) {
  ThreadCountGuard guard;
  const int n = count_unlike_default();
  const Stream stream = cpu_context().compute_stream();
  cpu_context().set_num_threads(n);
  run_cpu_op(stream);  // this thread applies n first
  EXPECT_EQ(omp_get_max_threads(), n);

  int after_op = 0, after_sync = 0;
  std::thread([&] {
    run_cpu_op(stream);
    after_op = omp_get_max_threads();
  }).join();
  std::thread([&] { after_sync = (sync_threads(stream), omp_get_max_threads()); }).join();
  EXPECT_EQ(after_op, n) << "a CPU op on a second thread ran with the default OpenMP team";
  EXPECT_EQ(after_sync, n);
}

TEST(CpuThreads, AChangeReachesAThreadThatAlreadyRanOps) {
  ThreadCountGuard guard;
  const int n = count_unlike_default();
  const Stream stream = cpu_context().compute_stream();
  cpu_context().set_num_threads(n);

  std::promise<int> first, second;
  std::promise<void> changed;
  std::thread worker([&] {
    run_cpu_op(stream);
    first.set_value(omp_get_max_threads());
    changed.get_future().wait();
    run_cpu_op(stream);
    second.set_value(omp_get_max_threads());
  });
  EXPECT_EQ(first.get_future().get(), n);
  cpu_context().set_num_threads(1);
  run_cpu_op(stream);  // this thread applies 1 first; the worker must still pick it up
  EXPECT_EQ(omp_get_max_threads(), 1);
  changed.set_value();
  EXPECT_EQ(second.get_future().get(), 1) << "the worker kept its old OpenMP thread count after the change";
  worker.join();
}

}  // namespace
}  // namespace sprint::cpu
