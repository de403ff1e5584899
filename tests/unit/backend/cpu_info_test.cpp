// cpu_info_test.cpp: the host CPU description behind `sprint info` and `--threads auto`.
#include <sched.h>

#include <thread>

#include <gtest/gtest.h>

#include "sprint/backend/cpu/cpu_info.h"

namespace sprint::cpu {
namespace {

TEST(CpuInfo, DescribesTheHost) {
  const CpuInfo info = cpu_info();
  EXPECT_FALSE(info.cpu_model.empty());
  EXPECT_FALSE(info.isa_name.empty());
  EXPECT_EQ(info.isa_name.find("unknown"), std::string::npos) << info.isa_name;
  EXPECT_GE(info.hardware_threads, 1);
  EXPECT_GE(info.available_cores, 1);
  EXPECT_LE(info.available_cores, info.hardware_threads);
  EXPECT_EQ(info.available_cores, available_cores());
}

TEST(CpuInfo, AvailableCoresStayWithinTheAffinityMask) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  ASSERT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
  EXPECT_LE(cores, CPU_COUNT(&mask));
  // Half the cores at most is lost to SMT pairs (two threads per core on x86).
  EXPECT_GE(2 * cores, CPU_COUNT(&mask));
}

}  // namespace
}  // namespace sprint::cpu
