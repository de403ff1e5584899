// ops_test.cpp: CUDA kernels at the edges the parity table does not reach: empty tensors, multi-block loss
// reductions, arg-max ties and NaN, out-of-range targets, optimizer calls with more tensors than one launch
// packs, odd GEMM shapes (k = 0, n = 0, unaligned views), accumulation modes and the GEMM plan cache. The CPU
// backend in float64 is the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gpu/gpu_test_util.h"
#include "sprint/backend/cuda/cublaslt_gemm.h"
#include "sprint/ops/elementwise.h"
#include "sprint/ops/linear.h"
#include "sprint/ops/loss.h"
#include "sprint/ops/optimizer.h"
#include "support/parity.h"
#include "support/test_util.h"

namespace sprint {
namespace {

class CudaOpsTest : public testing::CudaTest {
 protected:
  Stream cpu() { return cpu_context().compute_stream(); }
  Tensor dev_empty(const Shape& shape, DType d = DType::kF32) {
    return Tensor::empty(shape, d, context().allocator());
  }
  Tensor host_f64(const Tensor& t) { return ops::cast_to(cpu(), ops::to_host(stream(), t), DType::kF64); }
};

TEST_F(CudaOpsTest, EmptyTensorsAreNoOps) {
  const Stream s = stream();
  Tensor e = dev_empty({0});
  ops::relu_forward(s, e, e);
  ops::axpby(s, {.a = e, .b = e, .out = e});
  Tensor logits = dev_empty({0, 10}), probs = dev_empty({0, 10}), loss = dev_empty({});
  Tensor target = Tensor::empty({0}, DType::kI32, context().allocator());
  ops::cross_entropy_forward(s, {.logits = logits, .target = target, .probs = probs, .loss = loss});
  EXPECT_EQ(values<float>(loss)[0], 0.0f);  // the empty sum, like the CPU
  Tensor correct = ops::zeros(s, {}, DType::kI64);
  ops::count_correct(s, {.scores = logits, .target = target, .correct = correct});
  EXPECT_EQ(values<int64_t>(correct)[0], 0);
  const std::vector<Tensor> list{e};
  ops::sgd_update(s, {.params = list, .grads = list, .momentum_buffers = {}, .hyper = {}});
}

TEST_F(CudaOpsTest, LossesOverManyRowsUseTheMultiBlockReduction) {
  Generator rng(11);
  const int64_t n = 20011, k = 13;  // > 1024 blocks' worth of rows for the warp-per-row kernels
  const Tensor x_h = testing::random_tensor({n, k}, DType::kF64, rng, -4.0, 4.0);
  const Tensor t_h = testing::random_labels(n, k, rng);
  for (Reduction r : {Reduction::kMean, Reduction::kSum}) {
    for (DType loss_dtype : {DType::kF32, DType::kF64}) {
      Tensor ref_probs = Tensor::empty({n, k}, DType::kF64), ref_loss = Tensor::empty({}, DType::kF64);
      {
        testing::ReferenceModeGuard guard(true);
        ops::cross_entropy_forward(cpu(), {.logits = x_h,
                                           .target = t_h,
                                           .probs = ref_probs,
                                           .loss = ref_loss,
                                           .label_smoothing = 0.1,
                                           .reduction = r});
      }
      const Tensor x = to_device(ops::cast_to(cpu(), x_h, DType::kF32));
      const Tensor t = to_device(t_h);
      Tensor probs = dev_empty({n, k}), loss = dev_empty({}, loss_dtype);
      ops::cross_entropy_forward(
          stream(),
          {.logits = x, .target = t, .probs = probs, .loss = loss, .label_smoothing = 0.1, .reduction = r});
      EXPECT_TRUE(testing::all_close(probs, ref_probs, 1e-5, 1e-6));
      EXPECT_TRUE(testing::all_close(loss, ref_loss, 1e-5, 1e-6)) << (r == Reduction::kMean ? "mean" : "sum");
      // Deterministic: a second run gives the same bits.
      Tensor loss2 = dev_empty({}, loss_dtype);
      ops::cross_entropy_forward(
          stream(),
          {.logits = x, .target = t, .probs = probs, .loss = loss2, .label_smoothing = 0.1, .reduction = r});
      EXPECT_EQ(values<double>(loss2), values<double>(loss));
      // NLL over log-softmax on the same rows.
      Tensor logp = dev_empty({n, k}), nll = dev_empty({}, loss_dtype);
      ops::log_softmax_forward(stream(), {.x = x, .y = logp});
      ops::nll_loss_forward(stream(), {.logp = logp, .target = t, .loss = nll, .reduction = r});
      Tensor ref_logp = Tensor::empty({n, k}, DType::kF64), ref_nll = Tensor::empty({}, DType::kF64);
      ops::log_softmax_forward(cpu(), {.x = x_h, .y = ref_logp});
      ops::nll_loss_forward(cpu(), {.logp = ref_logp, .target = t_h, .loss = ref_nll, .reduction = r});
      EXPECT_TRUE(testing::all_close(nll, ref_nll, 1e-5, 1e-6));
    }
  }
}

TEST_F(CudaOpsTest, CountCorrectFollowsTheCpuArgMaxRuleAndAccumulates) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Rows: tie (first wins), NaN in column 0 (column 0 wins), NaN elsewhere (ignored), all -inf, wide row.
  std::vector<float> s = {1,         3,         3,         0,          //
                          nan,       5,         6,         7,          //
                          1,         nan,       2,         0,          //
                          -INFINITY, -INFINITY, -INFINITY, -INFINITY,  //
                          0,         0,         0,         9};
  const Tensor scores_h = Tensor::from_values(s, {5, 4});
  const Tensor target_h = Tensor::from_values(std::vector<int32_t>{1, 0, 2, 0, 3}, {5});
  Tensor correct = ops::zeros(stream(), {}, DType::kI64);
  ops::count_correct(stream(),
                     {.scores = to_device(scores_h), .target = to_device(target_h), .correct = correct});
  Tensor ref = Tensor::from_values(std::vector<int64_t>{0}, {});
  ops::count_correct(cpu(), {.scores = scores_h, .target = target_h, .correct = ref});
  EXPECT_EQ(ref.to_vector<int64_t>()[0], 5);
  EXPECT_EQ(values<int64_t>(correct)[0], 5);
  // Accumulates across calls; wide rows (K > 32) and many rows.
  Generator rng(5);
  const int64_t n = 3001, k = 77;
  const Tensor big_h = ops::cast_to(cpu(), testing::random_tensor({n, k}, DType::kF64, rng), DType::kF32);
  const Tensor labels_h = testing::random_labels(n, k, rng);
  ops::count_correct(stream(),
                     {.scores = to_device(big_h), .target = to_device(labels_h), .correct = correct});
  ops::count_correct(cpu(), {.scores = big_h, .target = labels_h, .correct = ref});
  EXPECT_EQ(values<int64_t>(correct)[0], ref.to_vector<int64_t>()[0]);
}

TEST_F(CudaOpsTest, OutOfRangeTargetsMakeTheLossNaN) {
  const Tensor logits = to_device(Tensor::from_values(std::vector<float>(6, 0.0f), {2, 3}));
  const Tensor target = to_device(Tensor::from_values(std::vector<int32_t>{0, 3}, {2}));
  Tensor probs = dev_empty({2, 3}), loss = dev_empty({}), d = dev_empty({2, 3});
  ops::cross_entropy_forward(stream(), {.logits = logits, .target = target, .probs = probs, .loss = loss});
  EXPECT_TRUE(std::isnan(values<float>(loss)[0]));
  ops::cross_entropy_backward(stream(), {.probs = probs, .target = target, .dlogits = d});
  const std::vector<float> g = values<float>(d);
  EXPECT_FALSE(std::isnan(g[0]));
  EXPECT_TRUE(std::isnan(g[3]));
}

TEST_F(CudaOpsTest, OptimizersOverMoreTensorsThanOneLaunchPacks) {
  // 203 tensors (three launches of up to 80), sizes from 0 to several chunks.
  Generator rng(9);
  std::vector<Tensor> hp, hg, hb, hm, hv;
  for (int i = 0; i < 203; ++i) {
    const int64_t n = (i * 977) % 9000;
    hp.push_back(testing::random_tensor({n}, DType::kF32, rng));
    hg.push_back(testing::random_tensor({n}, DType::kF32, rng));
    hb.push_back(testing::random_tensor({n}, DType::kF32, rng));
    hm.push_back(testing::random_tensor({n}, DType::kF32, rng, -0.1, 0.1));
    hv.push_back(testing::random_tensor({n}, DType::kF32, rng, 0.0, 0.1));
  }
  auto clone_all = [](const Stream& s, const std::vector<Tensor>& v) {
    std::vector<Tensor> out;
    for (const Tensor& t : v)
      out.push_back(s.device().is_cpu() ? ops::cast_to(s, t, t.dtype()) : ops::to_stream_device(s, t));
    return out;
  };
  const SgdHyper sgd{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 1e-3, .grad_scale = 0.5};
  const AdamHyper adam{.lr = 1e-2, .weight_decay = 0.05, .decoupled_weight_decay = true, .grad_scale = 2.0};
  std::vector<Tensor> cp = clone_all(cpu(), hp), cb = clone_all(cpu(), hb), cm = clone_all(cpu(), hm),
                      cv = clone_all(cpu(), hv);
  std::vector<Tensor> dp = clone_all(stream(), hp), dg = clone_all(stream(), hg),
                      db = clone_all(stream(), hb), dm = clone_all(stream(), hm),
                      dv = clone_all(stream(), hv);
  for (int step = 1; step <= 2; ++step) {
    ops::sgd_update(cpu(), {.params = cp, .grads = hg, .momentum_buffers = cb, .hyper = sgd});
    ops::sgd_update(stream(), {.params = dp, .grads = dg, .momentum_buffers = db, .hyper = sgd});
    ops::adam_update(
        cpu(), {.params = cp, .grads = hg, .exp_avg = cm, .exp_avg_sq = cv, .hyper = adam, .step = step});
    ops::adam_update(
        stream(), {.params = dp, .grads = dg, .exp_avg = dm, .exp_avg_sq = dv, .hyper = adam, .step = step});
  }
  for (size_t i = 0; i < hp.size(); ++i) {
    ASSERT_TRUE(testing::all_close(dp[i], cp[i], 1e-5, 1e-6)) << "param " << i;
    ASSERT_TRUE(testing::all_close(db[i], cb[i], 1e-5, 1e-6)) << "momentum " << i;
    ASSERT_TRUE(testing::all_close(dv[i], cv[i], 1e-5, 1e-6)) << "second moment " << i;
  }
}

TEST_F(CudaOpsTest, OptimizerWithF32MasterWeightsAndF16Gradients) {
  Generator rng(4);
  const Tensor p_h = testing::random_tensor({5000}, DType::kF32, rng);
  const Tensor g_h = testing::random_tensor({5000}, DType::kF32, rng);
  const Tensor g16_h = ops::cast_to(cpu(), g_h, DType::kF16);
  std::vector<Tensor> cp{ops::cast_to(cpu(), p_h, DType::kF32)};
  std::vector<Tensor> dp{to_device(p_h)}, dg{to_device(g16_h)};
  // The CPU reference sees the same (f16-rounded) gradient values in f32.
  const std::vector<Tensor> cg{ops::cast_to(cpu(), g16_h, DType::kF32)};
  ops::sgd_update(cpu(), {.params = cp, .grads = cg, .momentum_buffers = {}, .hyper = {.lr = 0.1}});
  ops::sgd_update(stream(), {.params = dp, .grads = dg, .momentum_buffers = {}, .hyper = {.lr = 0.1}});
  EXPECT_TRUE(testing::all_close(dp[0], cp[0], 1e-6, 1e-7));
}

// Forward + backward on the GPU in f32 against the CPU reference in f64, with pre-filled gradients (so that
// the accumulate mode adds to known values).
void linear_case(const Stream& s, int64_t n, int64_t in, int64_t out, bool bias, Activation act,
                 GradMode mode) {
  Generator rng(static_cast<uint64_t>(n * 1000003 + in * 1009 + out));
  const Stream cpu = cpu_context().compute_stream();
  std::vector<Tensor> h{
      testing::random_tensor({n, in}, DType::kF64, rng), testing::random_tensor({out, in}, DType::kF64, rng),
      testing::random_tensor({out}, DType::kF64, rng),   testing::random_tensor({n, out}, DType::kF64, rng),
      testing::random_tensor({n, in}, DType::kF64, rng), testing::random_tensor({out, in}, DType::kF64, rng),
      testing::random_tensor({out}, DType::kF64, rng)};
  auto run = [&](const Stream& st, DType d) {
    auto conv = [&](const Tensor& x) {
      const Tensor c = ops::cast_to(cpu, x, d);
      return st.device().is_cpu() ? c : ops::to_stream_device(st, c);
    };
    const Tensor x = conv(h[0]), w = conv(h[1]), b = bias ? conv(h[2]) : Tensor(), dy = conv(h[3]);
    Tensor dx = conv(h[4]), dw = conv(h[5]), db = conv(h[6]);  // pre-filled: accumulate adds to them
    Tensor y = Tensor::empty({n, out}, d, st.context().allocator());
    Tensor scratch = Tensor::empty({n, out}, d, st.context().allocator());
    ops::linear_forward(st, {.x = x, .w = w, .b = b, .y = y, .activation = act});
    ops::linear_backward(st, {.dy = dy,
                              .x = x,
                              .w = w,
                              .y = y,
                              .scratch = scratch,
                              .dx = dx,
                              .dw = dw,
                              .db = bias ? db : Tensor(),
                              .activation = act,
                              .dx_mode = mode,
                              .param_mode = mode});
    return std::vector<Tensor>{y, dx, dw, db};
  };
  std::vector<Tensor> ref;
  {
    testing::ReferenceModeGuard guard(true);
    ref = run(cpu, DType::kF64);
  }
  const std::vector<Tensor> got = run(s, DType::kF32);
  const char* names[] = {"y", "dx", "dw", "db"};
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(testing::all_close(got[i], ref[i], 1e-4, 1e-4))
        << names[i] << " for N=" << n << " I=" << in << " O=" << out << " bias=" << bias
        << " relu=" << (act == Activation::kReLU) << " accumulate=" << (mode == GradMode::kAccumulate);
}

TEST_F(CudaOpsTest, LinearOddShapesAndModes) {
  for (GradMode mode : {GradMode::kOverwrite, GradMode::kAccumulate})
    for (Activation act : {Activation::kNone, Activation::kReLU})
      for (bool bias : {true, false}) {
        linear_case(stream(), 3, 1, 5, bias, act, mode);
        linear_case(stream(), 1, 7, 1, bias, act, mode);
        linear_case(stream(), 257, 513, 77, bias, act, mode);
      }
}

TEST_F(CudaOpsTest, LinearDegenerateShapes) {
  for (GradMode mode : {GradMode::kOverwrite, GradMode::kAccumulate}) {
    linear_case(stream(), 4, 0, 3, true, Activation::kReLU, mode);  // I = 0: y = relu(b), dW empty
    linear_case(stream(), 0, 5, 3, true, Activation::kNone, mode);  // N = 0: dW = 0 / unchanged
  }
}

TEST_F(CudaOpsTest, LinearOnUnalignedViews) {
  // Row views start at arbitrary element offsets: cuBLASLt must be told the real alignment.
  Generator rng(21);
  const Tensor big_h = testing::random_tensor({41, 9}, DType::kF32, rng);
  const Tensor w_h = testing::random_tensor({6, 9}, DType::kF32, rng);
  const Tensor x = to_device(big_h).rows(3, 37);  // offset 27 floats = 108 bytes
  const Tensor w = to_device(w_h);
  Tensor y = dev_empty({37, 6});
  ops::linear_forward(stream(), {.x = x, .w = w, .b = kNoTensor, .y = y});
  Tensor ref = Tensor::empty({37, 6}, DType::kF32);
  ops::linear_forward(cpu(), {.x = big_h.rows(3, 37), .w = w_h, .b = kNoTensor, .y = ref});
  EXPECT_TRUE(testing::all_close(y, ref, 1e-5, 1e-5));
}

TEST_F(CudaOpsTest, LinearPlanCacheAvoidsRepeatedHeuristics) {
  Generator rng(2);
  const Tensor x = to_device(testing::random_tensor({32, 64}, DType::kF32, rng));
  const Tensor w = to_device(testing::random_tensor({16, 64}, DType::kF32, rng));
  const Tensor b = to_device(testing::random_tensor({16}, DType::kF32, rng));
  Tensor y = dev_empty({32, 16});
  auto& gemm = context().extension<cuda::CublasLtGemm>();
  ops::linear_forward(stream(), {.x = x, .w = w, .b = b, .y = y, .activation = Activation::kReLU});
  const int64_t misses = gemm.n_cache_misses();
  for (int i = 0; i < 5; ++i)
    ops::linear_forward(stream(), {.x = x, .w = w, .b = b, .y = y, .activation = Activation::kReLU});
  EXPECT_EQ(gemm.n_cache_misses(), misses);
  stream().synchronize();
}

TEST_F(CudaOpsTest, HalfPrecisionLinearAgainstFloat64) {
  for (DType d : {DType::kF16, DType::kBF16}) {
    Generator rng(13);
    const Tensor x_h = testing::random_tensor({64, 96}, DType::kF64, rng);
    const Tensor w_h = testing::random_tensor({40, 96}, DType::kF64, rng);
    const Tensor b_h = testing::random_tensor({40}, DType::kF64, rng);
    // Reference from the rounded inputs, so only accumulation and output rounding differ.
    const Tensor xr = ops::cast_to(cpu(), ops::cast_to(cpu(), x_h, d), DType::kF64);
    const Tensor wr = ops::cast_to(cpu(), ops::cast_to(cpu(), w_h, d), DType::kF64);
    const Tensor br = ops::cast_to(cpu(), ops::cast_to(cpu(), b_h, d), DType::kF64);
    Tensor ref = Tensor::empty({64, 40}, DType::kF64);
    ops::linear_forward(cpu(), {.x = xr, .w = wr, .b = br, .y = ref, .activation = Activation::kReLU});
    Tensor y = dev_empty({64, 40}, d);
    ops::linear_forward(stream(), {.x = to_device(ops::cast_to(cpu(), x_h, d)),
                                   .w = to_device(ops::cast_to(cpu(), w_h, d)),
                                   .b = to_device(ops::cast_to(cpu(), b_h, d)),
                                   .y = y,
                                   .activation = Activation::kReLU});
    const double rtol = d == DType::kF16 ? 2e-3 : 1e-2;
    EXPECT_TRUE(testing::all_close(y, ref, rtol, rtol)) << dtype_name(d);
  }
}

}  // namespace
}  // namespace sprint
