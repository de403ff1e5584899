// profiler_test.cpp: the Profiler on CUDA: layer spans are timed with events on the compute stream (the
// device track), the data wait on the host, every layer path appears forward and backward, spans nest per
// track, the Chrome trace names the device's track and passes the schema check, and the memory samples name
// the device.
#include <gtest/gtest.h>

#include "gpu/gpu_test_util.h"
#include "sprint/nn/activation.h"
#include "sprint/nn/linear.h"
#include "sprint/nn/sequential.h"
#include "sprint/profile/chrome_trace.h"
#include "sprint/profile/profile_summary.h"
#include "sprint/profile/profiler.h"
#include "support/chrome_trace_check.h"
#include "support/test_util.h"

namespace sprint::testing {
namespace {

class CudaProfiler : public CudaTest {};

TEST_F(CudaProfiler, TimesLayersWithEventsOnTheStream) {
  Generator rng(5);
  nn::Sequential net;
  net.add(std::make_shared<nn::Linear>(nn::LinearOptions(32, 64), rng), "fc1");
  net.add(std::make_shared<nn::ReLU>(), "relu");
  net.add(std::make_shared<nn::Linear>(nn::LinearOptions(64, 10), rng), "fc2");
  net.to_device(stream());
  const Tensor x = to_device(random_tensor({16, 32}, DType::kF32, rng));
  const Tensor dy = to_device(random_tensor({16, 10}, DType::kF32, rng));
  profile::Profiler p(stream(), {.warmup_steps = 1, .steps = 3});
  for (int step = 0; step < 4; ++step) {
    nn::RunContext ctx{stream()};
    ctx.observer = p.begin_step();
    { const profile::ProfileRegion wait(&p, "data wait", profile::Category::kData); }
    {
      const profile::ProfileRegion region(&p, "model", profile::Category::kForward);
      (void)net.forward(ctx, x);
    }
    {
      const profile::ProfileRegion region(&p, "model", profile::Category::kBackward);
      (void)net.backward(ctx, dy);
    }
    p.end_step();
  }
  ASSERT_TRUE(p.finished());
  const profile::ProfileData& d = p.data();
  EXPECT_TRUE(d.device_timing);
  EXPECT_EQ(d.n_steps(), 3);
  for (const profile::Span& s : d.spans) {
    const bool host = s.category == profile::Category::kStep || s.category == profile::Category::kData;
    EXPECT_EQ(s.track, host ? profile::Track::kHost : profile::Track::kDevice) << d.names[s.name];
    EXPECT_LE(s.start_ns, s.end_ns) << d.names[s.name];
  }
  const profile::ProfileSummary summary = profile::summarize(d);  // throws if spans do not nest
  for (const char* name : {"fc1", "relu", "fc2"}) {
    int found = 0;
    for (const profile::ProfileRow& r : summary.rows) found += r.name == name && r.calls == 3 ? 1 : 0;
    EXPECT_EQ(found, 2) << name << ": forward and backward";
  }
  const std::string trace = profile::chrome_trace_json(d);
  EXPECT_TRUE(is_valid_chrome_trace(trace));
  EXPECT_NE(trace.find("compute stream"), std::string::npos);
  ASSERT_EQ(d.memory.size(), 3u);
  EXPECT_EQ(d.memory[0].device, "cuda:0");
  EXPECT_GT(d.memory[0].stats.peak_allocated_bytes, 0);
}

}  // namespace
}  // namespace sprint::testing
